"""Prices stay equal to the feed: splits rewrite the history, unfinished bars wait, bad bars are refused."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from finsent.config import load_settings
from finsent.data.labels import LabelDefinition, label_posts
from finsent.ingest.crawl import crawl_boards
from finsent.ingest.prices import sync_prices
from finsent.ingest.records import KST
from finsent.loopback import FakeNaver
from finsent.loopback.admin import split
from tests.ingest.helpers import count

SAMSUNG, HYNIX = "005930", "000660"


def sync(engine, tickers=(SAMSUNG, HYNIX), **kwargs):
    return {r.ticker: r for r in sync_prices(load_settings(), engine, list(tickers), workers=1, **kwargs)}


def stored(engine, ticker):
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT trade_date, open, high, low, close, volume FROM prices "
                                    "WHERE ticker = :t ORDER BY trade_date"), {"t": ticker})
        return [tuple(r) for r in rows]


def served(rows):
    return [(r.trade_date, Decimal(r.open), Decimal(r.high), Decimal(r.low), Decimal(r.close), r.volume)
            for r in rows if r.volume > 0]


# Every label recomputed from the prices as they are now; any row returned is a stale label.
STALE_LABELS = """
SELECT l.ticker, l.post_id, l.ret, t.close / b.close - 1 AS now_ret
FROM labels l
JOIN prices b ON b.ticker = l.ticker AND b.trade_date = l.base_date
JOIN prices t ON t.ticker = l.ticker AND t.trade_date = l.target_date
WHERE l.definition = 'next_session'
  AND (abs(l.ret - (t.close / b.close - 1)::float8) > 1e-9
       OR l.label <> CASE WHEN t.close > b.close THEN 'up' WHEN t.close < b.close THEN 'down' ELSE 'flat' END)
"""


def test_a_split_rewrites_the_whole_history_and_relabels_every_affected_post(engine, naver):
    crawl_boards(load_settings(), engine, [SAMSUNG, HYNIX], workers=1)
    assert all(r.status == "ok" for r in sync(engine).values())
    label_posts(engine, LabelDefinition.build("next_session"))
    labelled = count(engine, "SELECT count(*) FROM labels WHERE ticker = :t", t=HYNIX)
    assert labelled > 0

    new_day = split(naver, HYNIX, 50)  # the adjusted feed now says every old close / 50
    report = sync(engine)
    assert report[HYNIX].status == "rewritten" and report[SAMSUNG].status == "ok"
    assert report[HYNIX].updated == len(served(naver.prices[HYNIX])) - 1 and report[HYNIX].inserted == 1
    assert stored(engine, HYNIX) == served(naver.prices[HYNIX])  # not one old-scale close left
    assert count(engine, "SELECT count(*) FROM crawl_runs WHERE command = 'prices' AND ticker = :t "
                         "AND status = 'rewritten'", t=HYNIX) == 1
    closes = [row[4] for row in stored(engine, HYNIX) if row[0] >= new_day - timedelta(days=7)]
    assert all(abs(b / a - 1) < Decimal("0.3") for a, b in itertools.pairwise(closes))  # no -98% day

    report = label_posts(engine, LabelDefinition.build("next_session"))
    assert report.relabelled > 0
    assert count(engine, "SELECT count(*) FROM labels WHERE ticker = :t", t=HYNIX) >= labelled
    with engine.connect() as conn:
        assert conn.execute(sa.text(STALE_LABELS)).fetchall() == []
    assert sync(engine)[HYNIX].status == "ok"  # the feed and the store agree again


def test_an_unchanged_overlap_adds_only_new_sessions(engine, naver):
    sync(engine)
    report = sync(engine)[SAMSUNG]
    assert (report.status, report.inserted, report.updated, report.duplicates) == ("ok", 0, 0, 5)


@pytest.fixture
def exam_day_naver(database_url, monkeypatch):
    """A loopback Naver whose last session is the 2025 CSAT day (opens 10:00, closes 16:30 KST)."""
    fake = FakeNaver(tickers={SAMSUNG: "삼성전자"}, posts_per_ticker=5, price_start=date(2025, 10, 1),
                     price_end=date(2025, 11, 13))
    with fake:
        for key in ("FINSENT_NAVER_BOARD_URL", "FINSENT_NAVER_PRICE_URL", "FINSENT_NAVER_LEGACY_URL",
                    "FINSENT_NAVER_API_URL"):
            monkeypatch.setenv(key, fake.base_url)
        yield fake


@pytest.mark.parametrize("source", ["fchart", "sisejson", "sise-day"])
def test_a_session_is_stored_only_once_it_has_closed(engine, exam_day_naver, source):
    exam_day = date(2025, 11, 13)

    def at(hour: int, minute: int):
        return lambda: datetime(2025, 11, 13, hour, minute, tzinfo=KST)

    since = date(2025, 11, 1) if source == "sise-day" else None
    during = sync(engine, (SAMSUNG,), source=source, since=since, clock=at(16, 40))[SAMSUNG]
    # 16:40 is after a regular close (15:30 + 30 min) but the CSAT day closes at 16:30
    assert during.status == "ok" and during.skipped >= 1
    assert exam_day not in [row[0] for row in stored(engine, SAMSUNG)]
    after = sync(engine, (SAMSUNG,), source=source, since=since, clock=at(17, 0))[SAMSUNG]
    assert after.inserted == 1 and stored(engine, SAMSUNG)[-1][0] == exam_day


def test_prices_dated_after_tomorrow_are_refused_and_quarantined(engine, database_url, monkeypatch, settings):
    future = datetime.now(KST).date() + timedelta(days=5)
    fake = FakeNaver(tickers={SAMSUNG: "삼성전자"}, posts_per_ticker=5, price_start=future - timedelta(days=60),
                     price_end=future)
    with fake:
        monkeypatch.setenv("FINSENT_NAVER_PRICE_URL", fake.base_url)
        report = sync(engine, (SAMSUNG,))[SAMSUNG]
    assert report.status == "failed" and "after tomorrow" in report.error
    assert count(engine, "SELECT count(*) FROM prices") == 0
    assert len(list(settings.quarantine_dir.glob("fchart_005930_*.raw"))) == 1


def test_an_impossible_bar_in_the_feed_is_quarantined(engine, naver, settings):
    bad = naver.prices[SAMSUNG][-3]
    naver.prices[SAMSUNG][-3] = type(bad)(bad.trade_date, bad.open, bad.high, bad.high + 100, bad.close, bad.volume)
    report = sync(engine)
    assert report[SAMSUNG].status == "failed" and "low" in report[SAMSUNG].error
    assert report[HYNIX].status == "ok"
    assert count(engine, "SELECT count(*) FROM prices WHERE ticker = :t", t=SAMSUNG) == 0


def test_a_session_the_feed_no_longer_lists_goes_with_the_labels_through_it(engine, naver):
    crawl_boards(load_settings(), engine, [HYNIX], workers=1)
    sync(engine, (HYNIX,))
    label_posts(engine, LabelDefinition.build("next_session"))
    labelled = {row[0] for row in query_rows(engine, "SELECT DISTINCT session_date FROM labels")}
    gone = sorted(labelled)[len(labelled) // 2]
    with naver.lock:
        naver.prices[HYNIX] = [r for r in naver.prices[HYNIX] if r.trade_date != gone]
    split(naver, HYNIX, 2)
    assert sync(engine, (HYNIX,))[HYNIX].status == "rewritten"
    assert stored(engine, HYNIX) == served(naver.prices[HYNIX])
    assert count(engine, "SELECT count(*) FROM labels WHERE :d BETWEEN base_date AND target_date", d=gone) == 0
    label_posts(engine, LabelDefinition.build("next_session"))
    assert count(engine, "SELECT count(*) FROM labels l WHERE NOT EXISTS (SELECT 1 FROM prices p WHERE "
                         "p.ticker = l.ticker AND p.trade_date IN (l.base_date, l.session_date, l.target_date))") == 0
    assert count(engine, "SELECT count(*) FROM labels WHERE session_date = :d", d=gone) == 0
    with engine.connect() as conn:
        assert conn.execute(sa.text(STALE_LABELS)).fetchall() == []


def query_rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]
