"""News is scored by the news champion and indexed apart from the board: one daily_sentiment row per
(source, ticker, session), a story counts once, and a re-score rewrites only what changed (by
Postgres row identity, as tests/ml/test_daily_index.py)."""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from finsent.cli import main
from finsent.config import load_settings
from finsent.data.build import build_dataset
from finsent.data.quality import check_quality
from finsent.db import SQL_DIR, upgrade
from finsent.ingest.importer import import_prices
from finsent.ingest.records import KST
from finsent.ml.evaluate import evaluate_version
from finsent.ml.news_score import score_news, score_sources
from finsent.ml.registry import NEWS_MODEL_NAME, configure, load_pyfunc, predict
from finsent.ml.score import score_posts
from finsent.ml.spec import ScoreSpec
from finsent.ml.train import TrainOutcome, train_model
from tests.data.board import add_news, add_posts, post, query
from tests.ml.board import VERDICT_SPEC
from tests.ml.news_board import make_news, story
from tests.ml.test_daily_index import rewritten

BY_NUMBER = ScoreSpec(alias="1", news_alias="1")  # both registered models' first version: the numbers collide
IDENTITY = "SELECT source, ticker, session_date, ctid::text, xmin::text FROM daily_sentiment"


def identities(engine) -> dict[tuple, tuple]:
    return {(s, t, d): (ctid, xmin) for s, t, d, ctid, xmin in query(engine, IDENTITY)}


@pytest.fixture
def models(engine, planted) -> tuple[TrainOutcome, TrainOutcome]:
    """A board model and a news model trained on the same sessions, each v1 of its registered model."""
    settings = load_settings()
    board = train_model(settings, engine, planted, "baseline")
    make_news(engine)
    build_dataset(engine, "news-planted", replace(VERDICT_SPEC, source="news"), settings.data_dir)
    news = train_model(settings, engine, "news-planted", "baseline")
    return board, news


def test_each_source_is_scored_by_its_own_model_and_indexed_apart(engine, models):
    assert [outcome.version for outcome in models] == [1, 1]
    settings = load_settings()
    reports = score_sources(settings, engine, BY_NUMBER)
    assert [(r.source, r.model_version) for r in reports] == [("board", 1), ("news", 1)]
    ((articles, stories),) = query(engine, "SELECT count(*), count(DISTINCT (ticker, story_key)) FROM news")
    assert reports[1].scored == articles and articles > stories
    assert query(engine, "SELECT count(*) FROM post_scores") == query(engine, "SELECT count(*) FROM posts")
    # the news scores are the news model's P(up), not the board model's
    rows = query(engine, "SELECT n.title, s.p_up FROM news_scores s JOIN news n USING (ticker, office_id, article_id) "
                         "ORDER BY n.ticker, n.office_id, n.article_id LIMIT 200")
    titles, stored = [t for t, _ in rows], np.array([p for _, p in rows])
    np.testing.assert_allclose(stored, predict(load_pyfunc(1, NEWS_MODEL_NAME), titles), atol=1e-5)
    assert np.abs(stored - predict(load_pyfunc(1), titles)).max() > 0.01
    # one index per source under the same version number, and the same (ticker, session) in both
    counts = dict(query(engine, "SELECT source, count(*) FROM daily_sentiment WHERE model_version = 1 GROUP BY 1"))
    assert counts == {"board": reports[0].index_rows, "news": reports[1].index_rows}
    assert query(engine, "SELECT count(*) FROM daily_sentiment b JOIN daily_sentiment n USING (model_version, ticker, "
                         "session_date) WHERE b.source = 'board' AND n.source = 'news'")[0][0] > 0
    # a news row counts stories: every story once, its copies never
    assert query(engine, "SELECT sum(n_posts) FROM daily_sentiment WHERE source = 'news'")[0][0] == stories
    # each source's index rebuilt from scratch agrees with what is stored: neither touched the other's rows
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM daily_sentiment_state")
    before = identities(engine)
    assert [r.index_rewritten for r in score_sources(settings, engine, BY_NUMBER)] == [0, 0]
    assert identities(engine) == before


def test_a_story_from_three_offices_counts_once(engine, models):
    settings = load_settings()
    score_sources(settings, engine, BY_NUMBER)
    ((last,),) = query(engine, "SELECT max(trade_date) FROM prices WHERE ticker = '005930'")
    evening = datetime.combine(last, datetime.min.time(), KST) + timedelta(hours=18)
    three = story("005930", 9_000_001, evening, "삼성 신제품 호재 가즈아 공개", ("015", "009", "011"))
    three[1].title, three[2].title = "[속보] 삼성 신제품 공개", "삼성 신제품 공개 악재 손절"  # a wire's copies differ
    add_news(engine, [*three, *story("005930", 9_000_002, evening + timedelta(hours=1), "삼성 실적 악재 폭락 우려")])
    assert score_news(settings, engine, BY_NUMBER).scored == 4
    p = dict(query(engine, "SELECT office_id || '/' || article_id, p_up FROM news_scores WHERE article_id >= "
                           "'0009000001'"))
    copies, single = [p[f"{o}/0009000001"] for o in ("015", "009", "011")], p["015/0009000002"]
    fresh = "SELECT session_date, n_posts, mean_p_up FROM daily_sentiment WHERE source = 'news' AND session_date > :d"
    ((session, n_posts, mean),) = query(engine, fresh, d=last)
    assert n_posts == 2 and mean == pytest.approx((np.mean(copies) + single) / 2)  # one vote: the story's mean
    before = identities(engine)
    check_quality(engine)  # flags the copies: the story's first article is its vote
    assert score_news(settings, engine, BY_NUMBER).index_rewritten == 1
    ((_, n_posts, mean),) = query(engine, fresh, d=last)
    assert n_posts == 2 and mean == pytest.approx((copies[0] + single) / 2)
    assert rewritten(before, identities(engine)) == {("news", "005930", session)}
    # a cluster that joins the two stories (the store's merge, an update of story_key): one vote now
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE news SET story_key = (SELECT story_key FROM news WHERE article_id = "
                             "'0009000001' LIMIT 1) WHERE article_id = '0009000002'")
    assert score_news(settings, engine, BY_NUMBER).index_rewritten == 1
    ((_, n_posts, mean),) = query(engine, fresh, d=last)
    assert n_posts == 1 and mean == pytest.approx((copies[0] + single) / 2)


def test_a_re_score_rewrites_only_the_new_rows_of_its_source(engine, models):
    settings = load_settings()
    score_sources(settings, engine, BY_NUMBER)
    before = identities(engine)
    sessions = sorted(d for s, t, d in before if s == "news" and t == "000660")
    middle = sessions[30]
    evening = datetime.combine(sessions[29], datetime.min.time(), KST) + timedelta(hours=20)
    add_news(engine, story("000660", 9_100_001, evening, "하이닉스 수주 호재 반등"))
    report = score_news(settings, engine, BY_NUMBER)
    assert (report.scored, report.index_rewritten) == (1, 1)
    after = identities(engine)
    assert rewritten(before, after) == {("news", "000660", middle)}
    # a post: the board's row only
    add_posts(engine, [post("000660", evening.replace(tzinfo=None), "새글 매수 가즈아")])
    assert score_posts(settings, engine, BY_NUMBER).index_rewritten == 1
    assert rewritten(after, identities(engine)) == {("board", "000660", middle)}
    assert [r.index_rewritten for r in score_sources(settings, engine, BY_NUMBER)] == [0, 0]  # nothing new


def test_a_day_of_news_scoring_reads_only_the_articles_stamped_since_its_watermark(engine, models):
    """After the version's first run the news score reads the change stamps, not all history: a score
    deleted by hand from an old article is not noticed (the README's way out: drop the watermark)."""
    settings = load_settings()
    news_only = replace(BY_NUMBER, source="news")
    first = score_sources(settings, engine, news_only)[0]
    (old_ticker, old_office, old_article), = query(
        engine, "SELECT ticker, office_id, article_id FROM news_scores ORDER BY ticker, office_id, article_id LIMIT 1")
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM news_scores WHERE ticker = :t AND office_id = :o AND article_id = :a"),
                     {"t": old_ticker, "o": old_office, "a": old_article})
    (last,), = query(engine, "SELECT max(published_at) FROM news")
    add_news(engine, story("000660", 9_200_001, last + timedelta(hours=1), "하이닉스 신고가 수주"))
    assert score_news(settings, engine, news_only).scored == 1  # the new article only, not the old one
    (mark,), = query(engine, "SELECT last_seq FROM step_watermarks WHERE step = 'score-news' AND version = '1'")
    assert mark == query(engine, "SELECT max(changed_seq) FROM news")[0][0]
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM step_watermarks WHERE step = 'score-news'"))
    assert score_news(settings, engine, news_only).scored == 1  # read whole again: the deleted score is back
    assert query(engine, "SELECT count(*) FROM news_scores")[0][0] == first.scored + 1


def test_a_history_rewrite_rewrites_only_that_stocks_rows_of_each_source(engine, models, tmp_path):
    settings = load_settings()
    score_sources(settings, engine, BY_NUMBER)
    before = identities(engine)
    bars = query(engine, "SELECT trade_date, open, high, low, close, volume FROM prices WHERE ticker = '000660' "
                         "ORDER BY trade_date")
    dropped = bars[40][0]  # not a session after all: its posts and news move to the next one
    lines = ["ticker,date,open,high,low,close,volume"]
    changed_bar = bars[41][0]  # a changed bar: the file is the ticker's history over its dates
    lines += [f"000660,{day},{o},{max(h, c + 1) if day == changed_bar else h},{low},"
              f"{c + 1 if day == changed_bar else c},{v}" for day, o, h, low, c, v in bars[35:46] if day != dropped]
    path = tmp_path / "rewrite.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_prices(engine, path)
    reports = score_sources(settings, engine, BY_NUMBER)
    changed = rewritten(before, identities(engine))
    assert {s for s, _, _ in changed} == {"board", "news"} and {t for _, t, _ in changed} == {"000660"}
    assert ("news", "000660", dropped) in changed and ("news", "000660", dropped) not in identities(engine)
    assert sum(r.index_rewritten for r in reports) == len(changed)
    with engine.begin() as conn:  # rebuilt from scratch, both agree with the incremental result
        conn.exec_driver_sql("DELETE FROM daily_sentiment_state")
    assert [r.index_rewritten for r in score_sources(settings, engine, BY_NUMBER)] == [0, 0]


def test_a_news_version_is_evaluated_as_the_news_models(engine, models, capsys):
    settings = load_settings()
    report = evaluate_version(settings, engine, "1", "news-planted")  # the snapshot's source: news
    assert report.model == "finsent-news-updown v1"
    assert report.metrics == pytest.approx(models[1].report.metrics)  # what its training run measured on that test
    board = evaluate_version(settings, engine, "1", "news-planted", source="board")  # the board's model on news
    assert board.model == "finsent-updown v1" and board.counts == report.counts
    assert board.metrics["log_loss"] != pytest.approx(report.metrics["log_loss"])
    assert main(["evaluate", "--dataset", "news-planted", "--model-version", "1"]) == 0
    assert "# Evaluation of finsent-news-updown v1" in capsys.readouterr().out


def test_without_a_news_champion_news_is_a_logged_skip(engine, planted, caplog):
    settings = load_settings()
    assert train_model(settings, engine, planted, "baseline").decision.promoted
    make_news(engine)
    with caplog.at_level(logging.WARNING):
        reports = score_sources(settings, engine)
    assert [r.source for r in reports] == ["board"]
    assert "finsent-news-updown has no champion yet: news articles not scored" in caplog.text
    assert query(engine, "SELECT count(*) FROM news_scores") == [(0,)]
    assert query(engine, "SELECT DISTINCT source FROM daily_sentiment") == [("board",)]
    assert main(["score", "--source", "news"]) == 2  # nothing at all to score with: a missing alias, exit 2
    assert "no version 'champion' of finsent-news-updown in the registry" in caplog.text
    # once news has a champion, the same command scores it
    build_dataset(engine, "news-planted", replace(VERDICT_SPEC, source="news"), settings.data_dir)
    train_model(settings, engine, "news-planted", "baseline")
    configure(settings).set_registered_model_alias(NEWS_MODEL_NAME, "champion", "1")
    assert [r.source for r in score_sources(settings, engine)] == ["board", "news"]


def test_the_migration_keeps_the_existing_index_as_the_boards(pg_admin_url, tmp_path):
    name = f"finsent_mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(sa.engine.make_url(pg_admin_url).set(database=name))
    try:
        before = tmp_path / "sql"
        before.mkdir()
        for path in sorted(SQL_DIR.glob("*.sql")):
            if path.name < "0018":
                shutil.copy(path, before / path.name)
        upgrade(engine, before)
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO daily_sentiment (model_version, ticker, session_date, n_posts, "
                                 "mean_p_up, bull_share) VALUES (1, '005930', '2025-01-02', 3, 0.6, 0.67)")
            conn.exec_driver_sql("INSERT INTO daily_sentiment_state (model_version, built_at) VALUES (1, now())")
        assert "0018_news_scores" in " ".join(upgrade(engine))
        assert query(engine, "SELECT source, n_posts FROM daily_sentiment") == [("board", 3)]
        assert query(engine, "SELECT source FROM daily_sentiment_state") == [("board",)]
        with engine.begin() as conn:  # the same version and session of the news: its own row
            conn.exec_driver_sql("INSERT INTO daily_sentiment (source, model_version, ticker, session_date, n_posts, "
                                 "mean_p_up, bull_share) VALUES ('news', 1, '005930', '2025-01-02', 2, 0.4, 0.5)")
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO daily_sentiment (source, model_version, ticker, session_date, n_posts, "
                                 "mean_p_up, bull_share) VALUES ('tv', 1, '005930', '2025-01-02', 2, 0.4, 0.5)")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
