"""Comments as a text source (issue 30): labelled by the board's rules at the time they were written,
flagged by their own rules, a snapshot of their own, a model of their own (``finsent-comments-updown``),
scored into their own daily index, walked by the backtest and shown on the page's ?source=comments."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from finsent.cli import main
from finsent.config import load_settings
from finsent.data.labels import LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.errors import ConfigError
from finsent.ml.backtest import run_backtest
from finsent.ml.backtest.spec import BacktestSpec
from finsent.ml.news_score import score_sources
from finsent.ml.registry import MODEL_NAME, configure, load_pyfunc, predict
from finsent.ml.spec import ScoreSpec
from finsent.ml.train import train_model
from finsent.web.page import View, render_sentiment_page
from tests.data.board import add_posts, post, query
from tests.ml.board import make_board
from tests.ml.comments import make_comments

TICKERS = ("005930", "000660", "035420", "051910")
COMMENTS_MODEL = "finsent-comments-updown"
UNFLAGGED = ("NOT EXISTS (SELECT 1 FROM comment_flags f WHERE (f.ticker, f.post_id, f.comment_no) = "
             "(c.ticker, c.post_id, c.comment_no))")


@pytest.fixture
def comments(engine):
    make_board(engine, planted=False, sessions=60, per_session=0, tickers=TICKERS)  # prices, no posts
    return make_comments(engine)


def test_comments_are_labelled_by_the_posts_rules_and_flagged_by_their_own(engine, comments):
    # a post written when a comment was gets the very same label: one rule, the time the text was written
    sample = query(engine, "SELECT ticker, written_at FROM comments ORDER BY ticker, comment_no LIMIT 400")
    add_posts(engine, [post(t, w.replace(tzinfo=None) + timedelta(hours=9), f"글 {i}", post_id=10**6 + i)
                       for i, (t, w) in enumerate(sample)])
    label_posts(engine, LabelDefinition.build("next_open_close"))
    mismatched = query(engine, """
        SELECT count(*) FROM comments c JOIN posts p ON p.ticker = c.ticker AND p.posted_at = c.written_at
        JOIN labels l ON l.ticker = p.ticker AND l.post_id = p.post_id AND l.definition = 'next_open_close'
        JOIN comment_labels k ON (k.ticker, k.post_id, k.comment_no) = (c.ticker, c.post_id, c.comment_no)
             AND k.definition = l.definition
        WHERE (k.session_date, k.base_date, k.target_date, k.ret, k.label)
              IS DISTINCT FROM (l.session_date, l.base_date, l.target_date, l.ret, l.label)""")
    compared = query(engine, "SELECT count(*) FROM comments c JOIN posts p ON p.ticker = c.ticker "
                             "AND p.posted_at = c.written_at JOIN comment_labels k ON k.ticker = c.ticker "
                             "AND k.post_id = c.post_id AND k.comment_no = c.comment_no")
    assert mismatched == [(0,)] and compared[0][0] >= 300
    # every comment before the last session is labelled; the junk is flagged by its rule, nothing else is
    assert query(engine, "SELECT count(*) FROM comments") == query(engine, "SELECT count(*) FROM comment_labels")
    flagged = {rule: sorted(query(engine, "SELECT ticker, post_id, comment_no FROM comment_flags WHERE rule = :r "
                                          "ORDER BY 1, 2, 3", r=rule)) for rule in comments}
    assert flagged == {rule: sorted(keys) for rule, keys in comments.items()}
    assert all(len(keys) == len(TICKERS) * (2 if rule == "comment_empty" else 1) for rule, keys in comments.items())
    # a second check changes nothing; a deleted ad loses its spam flag and keeps an empty one
    assert set(check_quality(engine).flagged.values()) == {0}
    ticker, post_id, number = comments["comment_spam"][0]
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE comments SET deleted = true, text = '' WHERE (ticker, post_id, comment_no) = "
                             "(%s, %s, %s)", (ticker, post_id, number))
    changed = check_quality(engine).flagged
    assert (changed["comment_spam"], changed["comment_empty"]) == (-1, 1)


def test_a_baseline_trained_on_comments_is_their_own_model_and_scores_their_index(engine, comments, tmp_path):
    settings = load_settings()
    assert main(["dataset", "build", "cset", "--source", "comments", "--test-frac", "0.2"]) == 0
    rows = query(engine, "SELECT source, count(*), max(post_id) < 0 FROM dataset_rows GROUP BY source")
    labelled = query(engine, "SELECT count(*) FROM comment_labels l JOIN comments c USING (ticker, post_id, "
                             f"comment_no) WHERE l.label IN ('up', 'down') AND {UNFLAGGED}")[0][0]
    assert rows[0][0] == "comments" and rows[0][2] and 0.8 * labelled <= rows[0][1] <= labelled
    assert query(engine, "SELECT count(*) FROM dataset_rows d JOIN comments c ON -c.item_id = d.post_id "
                         f"WHERE NOT {UNFLAGGED}") == [(0,)]  # no flagged comment in the snapshot
    outcome = train_model(settings, engine, "cset", "baseline")
    client = configure(settings)
    assert outcome.version == 1 and client.get_run(outcome.run_id).data.tags["finsent.model_name"] == COMMENTS_MODEL
    assert int(client.get_registered_model(COMMENTS_MODEL).aliases.get("champion", 0)) == 1  # the planted signal: skill
    assert not client.search_registered_models(f"name = '{MODEL_NAME}'")  # the board's model was never touched
    # the every-source default scores the comments (their champion) and skips the board (none)
    (report,) = score_sources(settings, engine, ScoreSpec())
    assert (report.source, report.model_version) == ("comments", 1)
    assert query(engine, "SELECT count(*) FROM comment_scores") == query(engine, "SELECT count(*) FROM comments")
    stored = query(engine, "SELECT c.text, s.p_up FROM comment_scores s JOIN comments c USING (ticker, post_id, "
                           "comment_no) ORDER BY s.ticker, s.comment_no LIMIT 200")
    np.testing.assert_allclose([p for _, p in stored], predict(load_pyfunc(1, COMMENTS_MODEL),
                                                               [t for t, _ in stored]), atol=1e-5)
    # one vote per unflagged comment, on the session its labels name; no other source's rows
    index = query(engine, "SELECT ticker, session_date, n_posts FROM daily_sentiment WHERE source = 'comments' "
                          "ORDER BY 1, 2")
    votes = query(engine, "SELECT l.ticker, l.session_date, count(*) FROM comment_labels l JOIN comments c "
                          f"USING (ticker, post_id, comment_no) WHERE {UNFLAGGED} GROUP BY 1, 2 ORDER BY 1, 2")
    assert index == votes and query(engine, "SELECT DISTINCT source FROM daily_sentiment") == [("comments",)]
    assert main(["score", "--source", "comments", "--comments-alias", "1"]) == 0  # nothing new: the same rows
    assert query(engine, "SELECT ticker, session_date, n_posts FROM daily_sentiment ORDER BY 1, 2") == index
    # the scores export holds them as their own source, each with its post and comment number
    assert main(["export", "scores", "--source", "comments", "--out", str(tmp_path / "scores.csv")]) == 0
    exported = pd.read_csv(tmp_path / "scores.csv")
    assert set(exported["source"]) == {"comments"} and len(exported) == len(query(engine, "SELECT 1 FROM comments"))
    assert sorted(zip(exported["post_id"], exported["comment_no"])) == sorted(
        query(engine, "SELECT post_id, comment_no FROM comment_scores"))
    # an edited comment (a re-fetch changed its text) loses its old score at reconcile and is scored again
    ticker, post_id, number = query(engine, "SELECT ticker, post_id, comment_no FROM comment_scores s WHERE "
                                            "p_up > 0.6 ORDER BY 1, 2, 3 LIMIT 1")[0]
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE comments SET text = %s WHERE (ticker, post_id, comment_no) = (%s, %s, %s)",
                             ("완전 폭락 손절 하락 악재", ticker, post_id, number))
    assert main(["reconcile"]) == 0 and query(engine, "SELECT count(*) FROM text_edits") == [(0,)]
    score_sources(settings, engine, ScoreSpec(source="comments", comments_alias="1"))
    (p_up,), = query(engine, "SELECT p_up FROM comment_scores WHERE (ticker, post_id, comment_no) = (:t, :p, :n)",
                     t=ticker, p=post_id, n=number)
    assert p_up == pytest.approx(predict(load_pyfunc(1, COMMENTS_MODEL), ["완전 폭락 손절 하락 악재"])[0], abs=1e-5)
    page = render_sentiment_page(engine, settings, view=View(ticker="005930", source="comments"))
    assert f"champion: <b>{COMMENTS_MODEL} v1</b>" in page and "<section" in page
    assert "finsent.naver.com" not in page and "board_read.naver?code=005930&amp;nid=1" in page  # the post's link


def test_without_a_comments_index_the_page_says_so(engine):
    make_board(engine, planted=True, sessions=30, per_session=4, tickers=TICKERS[:2])
    page = render_sentiment_page(engine, load_settings(), view=View(source="comments"))
    assert "no comments index yet" in page and COMMENTS_MODEL in page and "<section" not in page


def test_a_comments_walk_scores_comments_only_and_its_study_finds_the_planted_signal(engine, comments, capsys):
    assert main(["backtest", "cw", "--source", "comments", "--train-sessions", "20", "--step-sessions", "4"]) == 0
    out = capsys.readouterr().out
    assert "# Walk-forward backtest `cw`: comments" in out and "evidence of skill" in out and "no evidence" not in out
    assert query(engine, "SELECT DISTINCT source FROM backtest_daily") == [("comments",)]
    assert query(engine, "SELECT count(*) FROM backtest_scores WHERE source <> 'comments' OR post_id >= 0") == [(0,)]
    # flagged comments are never scored; each session's index counts its unflagged comments
    assert query(engine, "SELECT count(*) FROM backtest_scores s JOIN comments c ON -c.item_id = s.post_id "
                         f"WHERE NOT {UNFLAGGED}") == [(0,)]
    assert query(engine, "SELECT DISTINCT n_posts FROM backtest_daily") == [(6,)]
    # the study reads the walk: the comments' own signals, and the planted one is found
    assert main(["study", "cs", "--backtest", "cw", "--horizons", "1", "--json"]) == 0
    grid = {(c["signal"], c["target"]): c for c in json.loads(capsys.readouterr().out)["grid"]}
    assert {signal for signal, _ in grid} == {"comments_text", "comments_attention", "comments_disagreement"}
    assert grid["comments_text", "return"]["verdict"] == "signal" and grid["comments_text", "return"]["ic"] > 0


def test_a_walk_of_every_source_skips_a_source_with_no_texts(engine):
    make_board(engine, planted=True, sessions=40, per_session=6, tickers=TICKERS[:3])
    spec = BacktestSpec(source="both", train_sessions=20, step_sessions=4)
    with pytest.raises(ConfigError, match=r"no labelled texts of news, comments .* compares at least two sources"):
        run_backtest(load_settings(), engine, "all", spec)  # news has none either: nothing to compare
    assert main(["backtest", "all", "--source", "both", "--train-sessions", "20", "--step-sessions", "4"]) == 2
    make_comments(engine)
    assert main(["backtest", "all", "--source", "both", "--train-sessions", "20", "--step-sessions", "4"]) == 0
    assert query(engine, "SELECT DISTINCT source FROM backtest_daily ORDER BY 1") == [("board",), ("comments",)]
