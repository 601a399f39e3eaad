"""Models read the comments under a post (``--text title+body+comments``): those written before its
session opened, never the ones after. A board whose view sits in the comments is chance to a
title+body model and not to one that reads them; the served pyfunc and ``finsent score`` read the
same comments, and a post is scored again when the comments it would read change."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from finsent.config import load_settings
from finsent.data.build import build_dataset
from finsent.data.post_comments import comments_before_sql
from finsent.data.snapshots import load_snapshot
from finsent.data.spec import DatasetSpec
from finsent.errors import ConfigError
from finsent.ingest.records import KST
from finsent.ml.backtest.spec import BacktestSpec
from finsent.ml.backtest.texts import load_texts
from finsent.ml.champion import champion_with_record
from finsent.ml.evaluate import evaluate_version
from finsent.ml.registry import configure, load_pyfunc, predict
from finsent.ml.score import score_posts
from finsent.ml.train import train_model
from tests.data.board import add_posts, post, query
from tests.ml.board import ANSWERS, VERDICT_SPEC, add_comments, make_board
from tests.ml.test_bodies import fitted_report
from tests.ml.test_comments_rescore import recrawl

THREADS = replace(VERDICT_SPEC, text="title+body+comments")


def test_a_view_in_the_comments_is_chance_to_title_and_body_and_skill_to_a_model_reading_them(engine):
    make_board(engine, planted=True, view_in="comments")
    data_dir = load_settings().data_dir
    build_dataset(engine, "whole", VERDICT_SPEC, data_dir)
    build_dataset(engine, "threads", THREADS, data_dir)
    whole_test, whole = fitted_report(engine, "whole")
    threads_test, threads = fitted_report(engine, "threads")
    assert whole_test[["ticker", "post_id"]].equals(threads_test[["ticker", "post_id"]])  # one frozen test
    assert whole.has_verdict and not whole.shows_skill, whole.verdict()
    assert threads.shows_skill and threads.metrics["balanced_accuracy"] > 0.7, threads.verdict()
    # the comment before the open is read; the one after the close (the answer) never is
    frozen = load_snapshot(engine, "threads")
    bodies = pd.concat([frozen.part(p) for p in ("train", "valid", "test")])["body"]
    assert bodies.str.contains("\n저는 ").all()
    assert not bodies.str.contains("|".join(ANSWERS.values())).any()


def test_only_board_posts_have_comments_to_read():
    for source in ("news", "comments"):
        with pytest.raises(ConfigError, match="reads the comments under board posts"):
            DatasetSpec(source=source, text="title+body+comments").validate()
        with pytest.raises(ConfigError, match="reads the comments under board posts"):
            BacktestSpec(source=source, text="title+body+comments").validate()
    DatasetSpec(source="both", text="title+body+comments").validate()  # its news rows read title + summary


def stored_comments(engine, test: pd.DataFrame) -> pd.DataFrame:
    """The test posts' raw title, body and comments before their session opened, as a user would pass them."""
    rows = query(engine, f"""SELECT p.post_id, p.title, p.body, {comments_before_sql('p.ticker', 'p.post_id',
                 'l.session_date')} FROM posts p JOIN labels l ON l.definition = 'next_open_close'
                 AND l.ticker = p.ticker AND l.post_id = p.post_id WHERE p.post_id = ANY(:ids)""",
                 ids=test["post_id"].tolist())
    frame = pd.DataFrame(rows, columns=["post_id", "title", "body", "comments"])
    return test[["post_id"]].merge(frame, on="post_id")


def scores(engine) -> dict[int, tuple]:
    return {pid: (p, n, at) for pid, p, n, at in
            query(engine, "SELECT post_id, p_up, comments_read, scored_at FROM post_scores")}


def test_the_served_pyfunc_and_the_scores_read_the_comments_and_score_again_when_they_change(engine):
    make_board(engine, planted=True, view_in="comments")
    settings = load_settings()
    build_dataset(engine, "threads", THREADS, settings.data_dir)
    outcome = train_model(settings, engine, "threads", "baseline")
    assert outcome.report.shows_skill and outcome.decision.promoted
    served, test = load_pyfunc(outcome.version), load_snapshot(engine, "threads").part("test")
    p_frozen = predict(served, test)
    raw = stored_comments(engine, test)
    np.testing.assert_allclose(predict(served, raw), p_frozen, atol=1e-9)  # raw comments, cleaned alike
    assert np.abs(predict(served, raw.drop(columns="comments")) - p_frozen).max() > 0.2
    score_posts(settings, engine)
    first = scores(engine)
    assert {n for _, n, _ in first.values()} == {1}  # the comment before the open; never the answer after it
    np.testing.assert_allclose([first[i][0] for i in test["post_id"]], p_frozen, atol=1e-5)

    post_id, ticker, posted_at = query(engine, "SELECT post_id, ticker, posted_at FROM posts ORDER BY post_id")[-1]
    posted_at = posted_at.astimezone(KST).replace(tzinfo=None)  # KST wall time, as add_comments takes it
    # a comment after the session opened changes nothing; one before it is read: that post only is scored again
    add_comments(engine, [(ticker, post_id, 3, posted_at + timedelta(days=3), "폭락 손절")])
    assert score_posts(settings, engine).scored == 0 and scores(engine) == first
    add_comments(engine, [(ticker, post_id, 4, posted_at + timedelta(hours=2),
                           "폭락 손절 하한가 악재 떡락 매도")])
    assert score_posts(settings, engine).scored == 1
    again = scores(engine)
    assert again[post_id][1] == 2 and again[post_id][0] != first[post_id][0] and again[post_id][2] > first[post_id][2]
    assert {k: v for k, v in again.items() if k != post_id} == {k: v for k, v in first.items() if k != post_id}
    assert query(engine, "SELECT count(*) FROM post_scores") == [(len(first),)]
    # the crawl re-fetches that comment with a new text (an edit): the post is scored again from it
    assert recrawl(engine, (ticker, post_id, 4), text="가즈아 폭등 상한가 매수 반등 호재") == (0, 1)
    assert score_posts(settings, engine).scored == 1
    edited = scores(engine)
    assert edited[post_id][1] == 2 and edited[post_id][0] > again[post_id][0]
    assert {k: v for k, v in edited.items() if k != post_id} == {k: v for k, v in first.items() if k != post_id}
    # a post whose session has not opened reads every comment stored so far
    tonight = datetime.now(KST).replace(microsecond=0, tzinfo=None) - timedelta(minutes=5)
    add_posts(engine, [post(ticker, tonight, "오늘 어떻게 보세요", body="의견 부탁드립니다", post_id=99999999)])
    add_comments(engine, [(ticker, 99999999, 1, tonight, "저는 매수 반등")])
    assert score_posts(settings, engine).scored == 1 and scores(engine)[99999999][1] == 1


def test_a_champion_that_reads_comments_reads_them_when_compared_on_a_snapshot_that_froze_none(engine):
    make_board(engine, planted=True, view_in="comments")
    settings = load_settings()
    build_dataset(engine, "threads", THREADS, settings.data_dir)
    build_dataset(engine, "titles", replace(VERDICT_SPEC, text="title"), settings.data_dir)
    champion = train_model(settings, engine, "threads", "baseline")
    assert champion.decision.promoted
    threads, titles = (load_snapshot(engine, name).part("test") for name in ("threads", "titles"))
    assert titles["body"].isna().all()
    version, _, p_old = champion_with_record(engine, configure(settings), titles)
    # the same P(up) it has on the snapshot that froze its comments: it is compared at its own strength
    np.testing.assert_allclose(p_old, predict(load_pyfunc(version), threads), atol=1e-9)
    challenger = train_model(settings, engine, "titles", "baseline")
    assert not challenger.decision.promoted
    # finsent evaluate (and so the Models page) puts it on that snapshot at its own strength too
    evaluated = evaluate_version(settings, engine, str(version), "titles")
    assert evaluated.metrics["balanced_accuracy"] == pytest.approx(champion.report.metrics["balanced_accuracy"])


def test_a_walk_reading_comments_reads_those_before_the_open_as_the_snapshot_froze_them(engine):
    make_board(engine, planted=True, view_in="comments")
    build_dataset(engine, "threads", THREADS, load_settings().data_dir)
    walked = load_texts(engine, BacktestSpec(text="title+body+comments"), "board").set_index("post_id")["body"]
    frozen = pd.concat([load_snapshot(engine, "threads").part(p) for p in ("train", "valid", "test")])
    assert walked.loc[frozen["post_id"]].tolist() == frozen["body"].tolist()
    assert not walked.str.contains("|".join(ANSWERS.values())).any()
    assert not load_texts(engine, BacktestSpec(text="title+body"), "board")["body"].str.contains("\n저는 ").any()
