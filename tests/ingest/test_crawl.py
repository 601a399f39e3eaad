"""``finsent crawl`` against a real Postgres and the loopback Naver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from finsent.cli import main
from finsent.config import load_settings
from finsent.db import advisory_lock
from finsent.ingest.crawl import crawl_boards
from finsent.ingest.records import KST
from finsent.loopback.truth import stored_post_row
from tests.ingest.helpers import count, expected_html_row, stored_posts

LIST = "/front-api/discussion/list"
SAMSUNG, HYNIX = "005930", "000660"
LONG_AGO = date(2000, 1, 1)


def crawl(engine, tickers=(SAMSUNG,), **kwargs):
    reports = crawl_boards(load_settings(), engine, list(tickers), workers=1, **kwargs)
    return {r.ticker: r for r in reports}


def expected(naver, ticker):
    return sorted(stored_post_row(p) for p in naver.posts[ticker])


def test_full_walk_stores_exactly_what_was_served_under_faults(engine, naver):
    naver.inject(LIST, "status", times=2, code=503)
    naver.inject(LIST, "rate_limit", retry_after=0)
    naver.inject(LIST, "drop")
    naver.inject(LIST, "status", code=500)
    report = crawl(engine, (SAMSUNG, HYNIX), since=LONG_AGO)
    assert report[SAMSUNG].status == "ok" and report[HYNIX].status == "ok"
    assert report[SAMSUNG].retries == 5 and report[SAMSUNG].failures == 0
    for ticker in (SAMSUNG, HYNIX):
        assert stored_posts(engine, ticker) == expected(naver, ticker)
        assert report[ticker].inserted == len(naver.posts[ticker]) and report[ticker].duplicates == 0
    # the walk sent every documented parameter, so no other stock's post leaked in
    assert count(engine, "SELECT count(*) FROM posts") == 240
    assert count(engine, "SELECT count(*) FROM crawl_runs WHERE status = 'ok' AND retries = 5") == 1


def test_rerun_inserts_nothing_and_reads_one_page(engine, naver):
    crawl(engine, since=LONG_AGO)
    before = naver.list_requests(SAMSUNG)
    again = crawl(engine)[SAMSUNG]
    assert (again.inserted, again.pages) == (0, 1)
    assert naver.list_requests(SAMSUNG) - before == 1
    assert stored_posts(engine, SAMSUNG) == expected(naver, SAMSUNG)


def test_incremental_run_fetches_only_the_first_page(engine, naver):
    crawl(engine, since=LONG_AGO)
    naver.add_posts(SAMSUNG, 10)
    before = naver.list_requests(SAMSUNG)
    report = crawl(engine)[SAMSUNG]
    assert report.inserted == 10 and report.pages == 1
    assert naver.list_requests(SAMSUNG) - before == 1
    assert stored_posts(engine, SAMSUNG) == expected(naver, SAMSUNG)


def test_posts_arriving_mid_crawl_are_caught_without_duplicates(engine, naver):
    naver.arrive_during_crawl(SAMSUNG, 7, after_requests=1)
    first = crawl(engine, since=LONG_AGO)[SAMSUNG]
    assert first.status == "ok"
    second = crawl(engine)[SAMSUNG]
    assert second.inserted == 7
    assert stored_posts(engine, SAMSUNG) == expected(naver, SAMSUNG)
    assert count(engine, "SELECT count(*) - count(DISTINCT post_id) FROM posts") == 0


def test_first_run_goes_back_backfill_days(engine, naver, monkeypatch):
    monkeypatch.setenv("FINSENT_BACKFILL_DAYS", "10")
    report = crawl(engine)[SAMSUNG]
    floor = datetime.now(KST) - timedelta(days=10)
    stored = {row[1] for row in stored_posts(engine, SAMSUNG)}
    recent = {p.id for p in naver.posts[SAMSUNG] if p.written_at.replace(tzinfo=KST) >= floor}
    assert recent and recent <= stored
    assert len(stored) < len(naver.posts[SAMSUNG])  # it stopped: about 10 of 40 days
    assert report.pages == 1  # 30 posts in 10 days fit on one page of 50


def test_max_pages_caps_a_run_and_the_next_run_resumes(engine, naver):
    first = crawl(engine, since=LONG_AGO, max_pages=1)[SAMSUNG]
    assert (first.status, first.pages, first.inserted) == ("ok", 1, 50)
    assert count(engine, "SELECT count(*) FROM crawl_watermarks WHERE resume_cursor IS NOT NULL") == 1
    naver.add_posts(SAMSUNG, 3)
    second = crawl(engine)[SAMSUNG]
    assert second.inserted == len(naver.posts[SAMSUNG]) - 50
    assert stored_posts(engine, SAMSUNG) == expected(naver, SAMSUNG)
    assert count(engine, "SELECT count(*) FROM crawl_watermarks WHERE resume_cursor IS NOT NULL") == 0


def test_malformed_page_is_quarantined_and_writes_nothing(engine, naver, settings):
    crawl(engine, since=LONG_AGO, max_pages=1)
    stored_before = stored_posts(engine, SAMSUNG)
    naver.inject(LIST, "malformed")  # the resumed walk's next page
    report = crawl(engine, (SAMSUNG, HYNIX))
    assert report[SAMSUNG].status == "failed" and report[HYNIX].status == "ok"
    assert "could not parse http://127.0.0.1" in report[SAMSUNG].error and LIST in report[SAMSUNG].error
    assert stored_posts(engine, SAMSUNG) == stored_before  # nothing from the broken page
    raw = list((settings.quarantine_dir).glob("naver-mobile_005930_*.raw"))
    assert len(raw) == 1 and raw[0].read_bytes() and str(raw[0]) in report[SAMSUNG].error
    assert count(engine, "SELECT count(*) FROM crawl_runs WHERE status = 'failed' AND ticker = :t",
                 t=SAMSUNG) == 1
    # the walk is still open at the same cursor; the next run completes it
    assert crawl(engine)[SAMSUNG].status == "ok"
    assert stored_posts(engine, SAMSUNG) == expected(naver, SAMSUNG)


@pytest.mark.parametrize("kind", ["empty", "malformed"])
def test_broken_first_page_fails_the_ticker_via_cli(engine, naver, kind, capsys):
    naver.inject(LIST, kind)
    code = main(["crawl", "--tickers", SAMSUNG, "--since", "2000-01-01", "--workers", "1"])
    assert code == 1
    assert count(engine, "SELECT count(*) FROM posts") == 0
    out = capsys.readouterr().out
    assert "failed" in out and "005930" in out


def test_robots_txt_is_obeyed_unless_ignored(engine, naver, caplog):
    naver.robots_txt = "User-agent: *\nDisallow: /front-api/\n"
    report = crawl(engine, since=LONG_AGO)[SAMSUNG]
    assert report.status == "failed" and "robots.txt" in report.error
    assert count(engine, "SELECT count(*) FROM posts") == 0
    report = crawl(engine, since=LONG_AGO, ignore_robots=True)[SAMSUNG]
    assert report.status == "ok" and "IGNORED" in caplog.text


def test_a_ticker_already_being_crawled_is_not_crawled_twice(engine, naver):
    with advisory_lock(engine, f"crawl:{SAMSUNG}"):
        report = crawl(engine, (SAMSUNG, HYNIX), since=LONG_AGO)
    assert report[SAMSUNG].status == "locked" and report[HYNIX].status == "ok"
    assert count(engine, "SELECT count(*) FROM posts WHERE ticker = :t", t=SAMSUNG) == 0


def test_unknown_ticker_exits_2(engine, naver):
    assert main(["crawl", "--tickers", "999999"]) == 2


def test_retry_after_is_honoured(engine, naver):
    naver.inject(LIST, "rate_limit", retry_after=1)
    started = time.monotonic()
    assert crawl(engine, since=LONG_AGO)[SAMSUNG].retries == 1
    assert time.monotonic() - started >= 1.0


def test_legacy_html_board_dedupes_shifting_pages(engine, naver):
    naver.arrive_during_crawl(SAMSUNG, 25, after_requests=2)  # pushes rows onto later pages mid-walk
    report = crawl(engine, source="naver-html", since=LONG_AGO)[SAMSUNG]
    assert report.status == "ok" and report.duplicates > 0
    hidden = [p for p in naver.posts[SAMSUNG] if not p.cleanbot_passed]
    visible = [p for p in naver.posts[SAMSUNG] if p.cleanbot_passed]
    stored = stored_posts(engine, SAMSUNG)
    arrived = {p.id for p in naver.posts[SAMSUNG][-25:]}
    assert stored == sorted(expected_html_row(p) for p in visible if p.id not in arrived)
    assert report.skipped >= len([p for p in hidden if p.id not in arrived])
    again = crawl(engine, source="naver-html")[SAMSUNG]
    assert again.inserted == len([p for p in visible if p.id in arrived])
    assert stored_posts(engine, SAMSUNG) == sorted(expected_html_row(p) for p in visible)


def test_kill_9_mid_crawl_then_rerun_is_complete(engine, naver, database_url, tmp_path: Path):
    env = {**os.environ, "FINSENT_CRAWL_DELAY_S": "0.3"}
    cmd = [sys.executable, "-m", "finsent.cli", "crawl", "--tickers", f"{SAMSUNG},{HYNIX}",
           "--since", "2000-01-01", "--workers", "1"]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while count(engine, "SELECT coalesce(sum(pages), 0) FROM crawl_runs") < 2:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    partial = count(engine, "SELECT count(*) FROM posts")
    assert 0 < partial < 240
    report = crawl(engine, (SAMSUNG, HYNIX), since=LONG_AGO)
    assert all(r.status == "ok" for r in report.values())
    for ticker in (SAMSUNG, HYNIX):
        assert stored_posts(engine, ticker) == expected(naver, ticker)
    assert count(engine, "SELECT count(*) FROM crawl_runs WHERE status = 'interrupted'") == 1
