"""The Sentiment page says what the numbers can carry: intervals, sessions, and whether there is skill."""

from __future__ import annotations

from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from finsent.ml.score import score_posts
from finsent.ml.train import train_model
from finsent.orchestration.sentiment_page import render_sentiment_page
from tests.model.board import make_board


def test_champion_line_carries_its_clustered_intervals_and_verdict(engine, planted):
    settings = load_settings()
    train_model(settings, engine, planted, "baseline")
    score_posts(settings, engine)
    page = render_sentiment_page(engine, settings)
    assert "champion: <b>finsent-updown v1</b>" in page
    assert "balanced accuracy 0." in page and " [0." in page and "test sessions" in page
    assert "(stock, session) clusters" in page and "<b>evidence of skill</b>" in page


def test_without_a_champion_the_page_says_why(engine):
    settings = load_settings()
    make_board(engine, planted=False, seed=3)
    build_dataset(engine, "noise", DatasetSpec(), settings.data_dir)
    train_model(settings, engine, "noise", "baseline")
    page = render_sentiment_page(engine, settings)
    assert "no champion yet: v1: no champion yet: no evidence of skill" in page
    assert "balanced accuracy above 0.5, clustered by session" in page
