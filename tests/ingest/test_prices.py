"""``finsent prices`` against a real Postgres and the loopback Naver."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from finsent.cli import main
from finsent.config import load_settings
from finsent.ingest.prices import sync_prices
from tests.ingest.helpers import count

SAMSUNG, HYNIX = "005930", "000660"


def sync(engine, tickers=(SAMSUNG,), **kwargs):
    return {r.ticker: r for r in sync_prices(load_settings(), engine, list(tickers), workers=1, **kwargs)}


def stored(engine, ticker):
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT trade_date, open, high, low, close, volume, adjusted FROM prices "
                                    "WHERE ticker = :t ORDER BY trade_date"), {"t": ticker})
        return [tuple(r) for r in rows]


def served(rows, adjusted=True, since=date.min):
    return [(r.trade_date, Decimal(r.open), Decimal(r.high), Decimal(r.low), Decimal(r.close), r.volume, adjusted)
            for r in rows if r.volume > 0 and r.trade_date >= since]


@pytest.mark.parametrize("source", ["fchart", "sisejson"])
def test_first_run_stores_the_whole_adjusted_history_without_halts(engine, naver, source):
    naver.inject("/sise.nhn" if source == "fchart" else "/siseJson.naver", "status", code=502)
    report = sync(engine, (SAMSUNG, HYNIX), source=source)
    for ticker in (SAMSUNG, HYNIX):
        assert report[ticker].status == "ok"
        assert stored(engine, ticker) == served(naver.prices[ticker])
        assert report[ticker].skipped == 1  # the halt day
        assert naver.halt_date[ticker] not in {row[0] for row in stored(engine, ticker)}
    assert report[SAMSUNG].retries == 1


def test_later_runs_fetch_only_missing_sessions(engine, naver):
    sync(engine)
    assert sync(engine)[SAMSUNG].inserted == 0
    last = naver.prices[SAMSUNG][-1]
    new_day = dataclasses.replace(last, trade_date=last.trade_date + timedelta(days=3), close=last.close + 100)
    naver.prices[SAMSUNG].append(new_day)
    report = sync(engine)[SAMSUNG]
    assert (report.inserted, report.updated) == (1, 0)
    assert stored(engine, SAMSUNG) == served(naver.prices[SAMSUNG])
    fchart = [q for p, q in naver.requests_log if p == "/sise.nhn"]
    assert int(fchart[-1]["count"]) < 30  # asked only for the days since the last stored session


def halved(row):
    return dataclasses.replace(row, open=row.open // 2, high=row.high // 2, low=row.low // 2, close=row.close // 2)


def test_since_refetches_and_overwrites_changed_prices(engine, naver):
    sync(engine)
    older = naver.prices[SAMSUNG][-20:-10]  # older than the overlap an incremental run re-reads
    naver.prices[SAMSUNG][-20:-10] = [halved(r) if r.volume else r for r in older]
    assert sync(engine)[SAMSUNG].updated == 0  # the last sessions agree: nothing rewritten
    report = sync(engine, since=older[0].trade_date)[SAMSUNG]
    assert report.updated == len([r for r in older if r.volume])
    assert stored(engine, SAMSUNG) == served(naver.prices[SAMSUNG])


def test_a_changed_overlap_rewrites_the_history(engine, naver):
    sync(engine)
    naver.prices[SAMSUNG][-3:] = [halved(r) if r.volume else r for r in naver.prices[SAMSUNG][-3:]]
    report = sync(engine)[SAMSUNG]
    assert report.status == "rewritten" and report.updated == len([r for r in naver.prices[SAMSUNG][-3:] if r.volume])
    assert stored(engine, SAMSUNG) == served(naver.prices[SAMSUNG])


def test_legacy_sise_day_pages_are_stored_unadjusted(engine, naver):
    since = naver.split_date[SAMSUNG] - timedelta(days=40)
    report = sync(engine, source="sise-day", since=since)[SAMSUNG]
    assert report.status == "ok" and report.pages > 2
    assert stored(engine, SAMSUNG) == served(naver.raw_prices[SAMSUNG], adjusted=False, since=since)
    before_split = [r for r in stored(engine, SAMSUNG) if r[0] < naver.split_date[SAMSUNG]]
    adjusted = {r.trade_date: r.close for r in naver.prices[SAMSUNG]}
    assert before_split and all(r[4] == 50 * adjusted[r[0]] for r in before_split)


def test_malformed_xml_is_quarantined_and_writes_nothing(engine, naver, settings):
    naver.inject("/sise.nhn", "malformed")
    report = sync(engine, (SAMSUNG, HYNIX))
    assert report[SAMSUNG].status == "failed" and report[HYNIX].status == "ok"
    assert "/sise.nhn" in report[SAMSUNG].error
    assert count(engine, "SELECT count(*) FROM prices WHERE ticker = :t", t=SAMSUNG) == 0
    assert len(list(settings.quarantine_dir.glob("fchart_005930_*.raw"))) == 1


def test_cli_prices_reports_a_table_and_rejects_unknown_tickers(engine, naver, capsys):
    assert main(["prices", "--tickers", SAMSUNG]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["ticker", "status", "pages", "fetched"]
    assert "005930" in out and "TOTAL" in out
    assert main(["prices", "--tickers", "12345X"]) == 2
