"""Day after day, ``finsent label`` and ``finsent score`` read only what changed (the change stamps of
sql/0020), and what the days built equals one run from scratch, row by row: labels, scores and the
daily index. A rewrite of one ticker's history (a changed bar, a deleted session) rewrites only that
ticker's rows; a post crawled late (an old timestamp, a new stamp) is still labelled and scored."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from finsent.config import load_settings
from finsent.data.labels import STANDARD_DEFINITIONS, LabelDefinition, LabelReport, label_posts
from finsent.ingest.importer import import_prices
from finsent.ml.score import ScoreReport, score_posts
from finsent.ml.spec import ScoreSpec
from finsent.ml.train import train_model
from tests.data.board import add_posts, add_prices, post, query

LABELS = ("SELECT ticker, post_id, session_date, base_date, target_date, round(ret::numeric, 9), label "
          "FROM labels WHERE definition = :d")
SCORES = "SELECT ticker, post_id, p_up FROM post_scores WHERE model_version = :v"
INDEX = ("SELECT ticker, session_date, n_posts, round(mean_p_up::numeric, 9), round(bull_share::numeric, 9) "
         "FROM daily_sentiment WHERE model_version = :v")
TICKERS = ("005930", "000660")
REWRITTEN = "000660"


def run_day(engine, version: int) -> tuple[list[LabelReport], ScoreReport]:
    reports = [label_posts(engine, LabelDefinition.build(rule)) for rule in STANDARD_DEFINITIONS]
    return reports, score_posts(load_settings(), engine, ScoreSpec(alias=str(version)))


def identities(engine, sql: str) -> dict[tuple, tuple]:
    """Key columns -> (ctid, xmin): a row that is not rewritten keeps both."""
    return {tuple(row[:-2]): tuple(row[-2:]) for row in query(engine, sql)}


LABEL_IDS = "SELECT definition, ticker, post_id, ctid::text, xmin::text FROM labels"
INDEX_IDS = "SELECT ticker, session_date, ctid::text, xmin::text FROM daily_sentiment"


def changed(before: dict, after: dict) -> set[tuple]:
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def next_weekday(day: date) -> date:
    day += timedelta(days=1)
    while day.isoweekday() > 5:
        day += timedelta(days=1)
    return day


def new_day(engine, previous: date, day: date, n: int) -> int:
    """The evening's crawl after ``day``'s close: its session for every stock, posts written after the
    close (they wait for the next session: the next day's run labels them) and one post crawled late
    (written a month before). Returns the posts added."""
    rows = [post(t, datetime.combine(day, datetime.min.time()) + timedelta(hours=16, minutes=7 * k),
                 f"새 하루 {n} {'가즈아' if k % 2 else '손절'} {k}") for t in TICKERS for k in range(5)]
    rows.append(post(TICKERS[0], datetime.combine(previous - timedelta(days=30), datetime.min.time())
                     + timedelta(hours=20), f"늦게 모은 글 {n} 반등"))
    add_posts(engine, rows)
    for t in TICKERS:
        ((close,),) = query(engine, "SELECT close FROM prices WHERE ticker = :t ORDER BY trade_date DESC LIMIT 1", t=t)
        add_prices(engine, t, {day: float(close) * (1.01 if n % 2 else 0.99)}, opens={day: float(close)})
    return len(rows)


def rewrite_history(engine, tmp_path: Path) -> None:
    """A re-adjusted stretch of one ticker's history: every bar of it changed, one session gone."""
    bars = query(engine, "SELECT trade_date, open, high, low, close, volume FROM prices WHERE ticker = :t "
                         "ORDER BY trade_date", t=REWRITTEN)
    lines = ["ticker,date,open,high,low,close,volume"]
    for i, (day, o, h, low, c, v) in enumerate(bars[40:50]):
        if i != 5:  # the sixth bar is not a session after all
            lines.append(f"{REWRITTEN},{day},{o},{max(h, c + 7)},{low},{c + 7},{v}")
    path = tmp_path / "rewrite.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_prices(engine, path)


def equals_a_run_from_scratch(engine, version: int) -> None:
    """Labels under fresh names, and the version's scores and index dropped and made again: the same rows."""
    for rule in STANDARD_DEFINITIONS:
        label_posts(engine, LabelDefinition.build(rule, name=f"scratch_{rule}"))
        assert set(query(engine, LABELS, d=rule)) == set(query(engine, LABELS, d=f"scratch_{rule}"))
    scores, index = set(query(engine, SCORES, v=version)), set(query(engine, INDEX, v=version))
    ((posts,),) = query(engine, "SELECT count(*) FROM posts")
    assert len(scores) == posts  # every post scored, once
    with engine.begin() as conn:
        for table in ("post_scores", "daily_sentiment", "daily_sentiment_state"):
            conn.exec_driver_sql(f"DELETE FROM {table} WHERE model_version = %s", (version,))
        conn.exec_driver_sql("DELETE FROM step_watermarks WHERE step = 'score'")
    assert score_posts(load_settings(), engine, ScoreSpec(alias=str(version))).scored == posts
    assert set(query(engine, SCORES, v=version)) == scores
    assert set(query(engine, INDEX, v=version)) == index


@pytest.fixture
def version(engine, planted) -> int:
    version = train_model(load_settings(), engine, planted, "baseline").version
    run_day(engine, version)  # the first score of the version reads everything; the labels exist already
    return version


def test_days_read_only_what_changed_and_equal_a_run_from_scratch(engine, version, tmp_path: Path):
    ((history,),) = query(engine, "SELECT count(*) FROM posts")
    ((day,),) = query(engine, "SELECT max(trade_date) FROM prices")
    for n in range(5):
        previous, day = day, next_weekday(day)
        labels_before, index_before = identities(engine, LABEL_IDS), identities(engine, INDEX_IDS)
        added = new_day(engine, previous, day, n)
        if n == 2:
            rewrite_history(engine, tmp_path)
        reports, scored = run_day(engine, version)
        assert scored.scored == added  # the new posts, the late one included; nothing else
        assert all(r.read is not None and r.read >= added for r in reports)  # incremental, new posts read
        # yesterday evening's posts are labelled now (their session came), the late one at once
        waiting = len(TICKERS) * 5 if n else 0
        assert all(r.labelled >= waiting + 1 and r.unlabelled == added - 1 for r in reports)
        labels = changed(labels_before, identities(engine, LABEL_IDS))
        rows = changed(index_before, identities(engine, INDEX_IDS))
        if n == 2:  # the rewritten ticker's rows change; the other's only where its posts are new
            assert any(t == REWRITTEN for _, t, _ in labels) and any(t == REWRITTEN for t, _ in rows)
            assert all(r.read < history // 2 for r in reports)  # one ticker's posts from the rewrite on
        else:
            assert all(r.read < history // 10 for r in reports)  # the day and a few sessions before it
        (recent,) = zip(*query(engine, "SELECT post_id FROM posts ORDER BY changed_seq DESC LIMIT :n", n=2 * added))
        assert all(t == REWRITTEN or p in recent for _, t, p in labels)  # today's posts and yesterday's
        assert all(t == REWRITTEN or d >= previous - timedelta(days=31) for t, d in rows)
    equals_a_run_from_scratch(engine, version)


def test_rows_from_before_the_stamps_are_read_once_then_only_what_changed(engine, planted):
    """An upgraded database: rows written before sql/0020 have no stamp and no step has a watermark.
    The first run reads everything (and agrees with the labels there), the next only what is new."""
    with engine.begin() as conn:
        for table in ("posts", "prices"):
            conn.exec_driver_sql(f"UPDATE {table} SET changed_seq = NULL")
        conn.exec_driver_sql("DELETE FROM step_watermarks")
        conn.exec_driver_sql("DELETE FROM labels WHERE post_id %% 7 = 0")  # some posts wait for a label
    definition = LabelDefinition.build("next_open_close")
    first = label_posts(engine, definition)
    assert first.read is None and first.labelled > 0  # a full run, as before the stamps
    ((day,),) = query(engine, "SELECT max(trade_date) FROM prices")
    added = new_day(engine, day - timedelta(days=1), next_weekday(day), 0)
    second = label_posts(engine, definition)
    ((history,),) = query(engine, "SELECT count(*) FROM posts")
    assert second.read is not None and added <= second.read < history // 10
    label_posts(engine, LabelDefinition.build("next_open_close", name="scratch_next_open_close"))
    assert set(query(engine, LABELS, d="next_open_close")) == set(query(engine, LABELS, d="scratch_next_open_close"))
