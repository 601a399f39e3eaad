"""Manners that hold for the deployment: one per-host clock across processes, robots.txt by setting."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from finsent.config import load_settings
from finsent.errors import ConfigError
from finsent.ingest.crawl import crawl_boards
from finsent.orchestration import tasks
from tests.ingest.helpers import count

SAMSUNG, HYNIX = "005930", "000660"
ROOT = Path(__file__).resolve().parents[2]

# Each process reserves slots for one host on the shared clock and prints when it got each one.
_WORKER = """
import sys, time
import sqlalchemy as sa
from finsent.ingest.host_clock import SharedHostClock
clock = SharedHostClock(sa.create_engine(sys.argv[1]), float(sys.argv[2]))
sys.stdin.readline()  # start together
for _ in range(int(sys.argv[3])):
    clock.wait("m.stock.naver.com")
    print(time.time(), flush=True)
"""


def test_the_delay_per_host_holds_across_processes(database_url):
    delay, per_process = 0.5, 4
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, database_url, str(delay), str(per_process)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
               for _ in range(2)]
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    stamps = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        stamps += [float(line) for line in out.split()]
    stamps.sort()
    assert len(stamps) == 2 * per_process
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    # the slots are exactly `delay` apart; the slack is for a busy machine waking one sleeper late
    # (unshared, two processes sent their requests a millisecond apart)
    assert min(gaps) >= delay - 0.1, gaps


def test_crawls_reserve_their_requests_on_the_shared_clock(engine, naver):
    crawl_boards(load_settings(), engine, [SAMSUNG], workers=1)
    assert count(engine, "SELECT count(*) FROM host_clock WHERE host = :h",
                 h=naver.base_url.removeprefix("http://")) == 1


def test_a_disallowed_path_fails_once_naming_the_rule(engine, naver, monkeypatch):
    naver.robots_txt = "User-agent: *\nDisallow: /front-api/\n"
    reports = {r.ticker: r for r in crawl_boards(load_settings(), engine, [SAMSUNG, HYNIX], workers=2)}
    for report in reports.values():
        assert report.status == "failed" and report.retries == 0
        assert "Disallow: /front-api/ (User-agent: *)" in report.error and "FINSENT_ROBOTS=ignore" in report.error
    paths = [path for path, _ in naver.requests_log]
    assert paths.count("/robots.txt") == 1 and "/front-api/discussion/list" not in paths
    # the DAG's step fails without a retry (Airflow's AirflowFailException): the answer will not change
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="Disallow: /front-api/"):
        tasks.crawl_ticker(SAMSUNG)
    monkeypatch.setenv("FINSENT_ROBOTS", "ignore")  # what a DAG deployment sets
    assert tasks.crawl_ticker(SAMSUNG)["status"] == "ok"
    assert count(engine, "SELECT count(*) FROM posts WHERE ticker = :t", t=SAMSUNG) > 0


def test_robots_setting_is_validated(database_url, monkeypatch):
    monkeypatch.setenv("FINSENT_ROBOTS", "sometimes")
    with pytest.raises(ConfigError, match="FINSENT_ROBOTS"):
        load_settings()


def test_robots_txt_is_read_once_an_hour_for_every_process(engine, naver, monkeypatch):
    """Each Airflow crawl task is a process with its own client: they share one copy on the data folder."""
    from finsent.ingest import robots

    for _ in range(3):
        tasks.crawl_ticker(SAMSUNG)
    assert [path for path, _ in naver.requests_log].count("/robots.txt") == 1
    (copy,) = (load_settings().data_dir / "cache" / "robots").glob("*.json")
    monkeypatch.setattr(robots, "ROBOTS_CACHE_TTL_S", 0.0)  # the hour is over: read it again
    naver.robots_txt = "User-agent: *\nDisallow: /front-api/\n"
    with pytest.raises(Exception, match="Disallow: /front-api/"):
        tasks.crawl_ticker(SAMSUNG)
    assert [path for path, _ in naver.requests_log].count("/robots.txt") == 2 and copy.is_file()
