"""The soak's faults (one kind a day, in turn) and its checks against the loopback's truth.

Each fault is armed after the world has moved one session on and before that day's DAG runs;
``during`` (when a fault has one) runs in a thread beside the ingest run. The checks compare
Postgres with what the loopback serves, row by row: posts, news and prices exact, every post
scored, and the daily index equal to a rebuild from scratch (done in a transaction rolled back,
so the incremental index stays what is under test).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from finsent.ingest.records import POST_COLUMNS, kst
from finsent.loopback.admin import adjust_history
from finsent.loopback.news import is_bare
from finsent.loopback.truth import stored_post_row

log = logging.getLogger(__name__)

LIST = "/front-api/discussion/list"
PRICES = "/sise.nhn"
NEWS = "/api/news/stock/"
POISON = "\ud83d 오늘 상한가 간다"  # a lone surrogate: the crawler must quarantine it, not fail the board


@dataclass
class Day:
    """What one simulated day needs to arm its fault: the loopback, the database and the settings."""

    fake: object
    engine: sa.Engine
    tickers: list[str]
    timeout_s: float
    retries: int  # the HTTP client's own retries (FINSENT_HTTP_RETRIES)
    during: Callable[[], None] | None = None
    notes: list[str] = field(default_factory=list)


# --- the faults --------------------------------------------------------------------------------


def errors(day: Day) -> None:
    """5xx and drops: more 503s on the board than the client retries (the task fails, Airflow retries
    it), dropped news answers, and 502s on the prices of one stock past the client's retries."""
    fake, first, last = day.fake, day.tickers[0], day.tickers[-1]
    fake.inject(LIST, "status", times=day.retries + 1, code=503)
    fake.inject(NEWS + last, "drop", times=2)
    fake.inject(PRICES, "status", times=day.retries + 1, code=502)
    day.notes.append(f"board 503 x{day.retries + 1}, news {last} dropped x2, prices 502 x{day.retries + 1} ({first})")


def slow_host(day: Day) -> None:
    """A slow host: answers later than the client's timeout, more times than it retries."""
    seconds = day.timeout_s + 1
    day.fake.inject(LIST, "slow", times=day.retries + 1, seconds=seconds)
    day.fake.inject(NEWS + day.tickers[0], "slow", times=1, seconds=seconds)
    day.notes.append(f"board slow {seconds:g} s x{day.retries + 1}, news slow x1")


def killed_worker(day: Day) -> None:
    """A worker killed mid-task: a ``finsent crawl`` process (as the DAG's crawl task runs it) is
    sent SIGKILL while it waits on a board page, holding its lock and its run record; the day's
    DAG run then crawls what it never stored."""
    fake, ticker = day.fake, day.tickers[0]
    served = len(fake.faults_served)
    fake.inject(LIST, "slow", times=1, seconds=20)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-c", "import sys; from finsent.cli import main; sys.exit(main())", "crawl", "--tickers",
               ticker]
    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(fake.faults_served) == served and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    alive = worker.poll() is None
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    if not alive:
        raise RuntimeError(f"the crawl to kill ended by itself (exit {worker.returncode}) before the fault")
    day.notes.append(f"crawl {ticker} (pid {worker.pid}) killed -9 mid-request")


def postgres_restart(day: Day) -> None:
    """Postgres going away under a running task: while the ingest run's board crawl waits on a
    slow page, every backend of the soak's database is terminated (pg_terminate_backend), which is
    what its clients see of a restart; the crawl's next statement fails and Airflow retries it."""
    fake, engine = day.fake, day.engine
    served = len(fake.faults_served)
    fake.inject(LIST, "slow", times=1, seconds=min(1.5, day.timeout_s / 2))

    def terminate() -> None:
        deadline = time.monotonic() + 300
        while len(fake.faults_served) == served and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        with engine.connect() as conn:
            killed = conn.execute(sa.text("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM "
                                          "pg_stat_activity WHERE datname = current_database() "
                                          "AND pid <> pg_backend_pid()")).scalar()
        day.notes.append(f"{killed} backend(s) terminated mid-crawl")

    day.during = terminate


def history_rewrite(day: Day) -> None:
    """The feed rewrites a stock's adjusted history (a dividend adjustment of 2% before the last bar)."""
    changed = adjust_history(day.fake, day.tickers[0], 0.98)
    day.notes.append(f"{day.tickers[0]}: {changed} bars rewritten x0.98")


def dropped_session(day: Day) -> None:
    """The feed no longer lists a stored session (it was a halt after all): the last stock's bar two
    sessions back goes from every price endpoint; the store, the labels and the index must follow."""
    fake, ticker = day.fake, day.tickers[-1]
    with fake.lock:
        gone = fake.prices[ticker][-3].trade_date
        fake.prices[ticker] = [r for r in fake.prices[ticker] if r.trade_date != gone]
        fake.raw_prices[ticker] = [r for r in fake.raw_prices[ticker] if r.trade_date != gone]
    day.notes.append(f"{ticker}: the session of {gone} dropped from the feed")


def poisoned_title(day: Day) -> None:
    """A post whose title holds a lone surrogate, once, on top of the first board page asked for."""
    day.fake.inject(LIST, "poison", times=1, index=0, fields={"title": POISON})
    day.notes.append("one title poisoned (lone surrogate)")


FAULTS: dict[str, Callable[[Day], None]] = {
    "5xx+drops": errors, "slow host": slow_host, "killed worker": killed_worker,
    "postgres restart": postgres_restart, "history rewrite": history_rewrite, "poisoned title": poisoned_title,
    "dropped session": dropped_session,
}


def run_beside(during: Callable[[], None] | None, body: Callable[[], object]) -> object:
    """``body()`` with ``during`` in a thread beside it (joined before returning)."""
    if during is None:
        return body()
    thread = threading.Thread(target=during, name="soak-fault", daemon=True)
    thread.start()
    try:
        return body()
    finally:
        thread.join(timeout=60)


# --- the truth ----------------------------------------------------------------------------------


def refused(quarantine: Path, source: str) -> set[str]:
    """The keys of every record the quarantine holds for ``source`` ('post 123', 'article 015/000...')."""
    keys = set()
    for meta in quarantine.glob(f"{source}_*.meta.json"):
        keys |= {r["key"] for r in json.loads(meta.read_text()).get("refused", [])}
    return keys


def _compare(what: str, stored: list, expected: list, problems: list[str]) -> int:
    if stored != expected:
        extra, missing = set(stored) - set(expected), set(expected) - set(stored)
        problems.append(f"{what}: {len(stored)} stored, {len(expected)} served; {len(missing)} missing, "
                        f"{len(extra)} not served or different, {len(stored) - len(set(stored))} duplicated")
    return len(expected)


def check_data(engine: sa.Engine, fake, quarantine: Path, problems: list[str]) -> int:
    """Posts, news and prices exactly as served (what the quarantine refused left out); rows checked."""
    bad_posts = {int(k.removeprefix("post ")) for k in refused(quarantine, "naver-mobile") if k.startswith("post ")}
    bad_news = {tuple(k.removeprefix("article ").split("/")) for k in refused(quarantine, "naver-news")}
    checked = 0
    with engine.connect() as conn, fake.lock:
        for ticker in fake.tickers:
            stored = [tuple(r) for r in conn.execute(sa.text(
                f"SELECT {', '.join(POST_COLUMNS)} FROM posts WHERE ticker = :t ORDER BY post_id"), {"t": ticker})]
            # a refused record may be missing; once a later walk read it clean, it must be there as served
            missing = bad_posts - {row[1] for row in stored}
            served = [stored_post_row(p) for p in sorted(fake.posts[ticker], key=lambda p: p.id) if p.id not in missing]
            checked += _compare(f"posts {ticker}", stored, served, problems)
            news = sorted(tuple(r) for r in conn.execute(sa.text(
                "SELECT ticker, office_id, article_id, published_at, title, summary, office_name FROM news "
                "WHERE ticker = :t"), {"t": ticker}))
            articles = {(a.office_id, a.article_id): a for c in fake.news[ticker] for a in c}
            expected = sorted((ticker, o, i, kst(a.published_at), a.title.strip(),
                               None if is_bare(a) or a.summary is None else a.summary.strip(),
                               None if is_bare(a) else a.office_name)
                              for (o, i), a in articles.items()
                              if (o, i) not in bad_news or (o, i) in {row[1:3] for row in news})
            checked += _compare(f"news {ticker}", news, expected, problems)
            prices = [tuple(r) for r in conn.execute(sa.text(
                "SELECT trade_date, open, high, low, close, volume FROM prices WHERE ticker = :t ORDER BY trade_date"),
                {"t": ticker})]
            bars = [(r.trade_date, *(Decimal(v) for v in (r.open, r.high, r.low, r.close)), r.volume)
                    for r in fake.prices[ticker] if r.volume > 0]
            checked += _compare(f"prices {ticker}", prices, bars, problems)
    return checked


def still_missing(engine: sa.Engine, quarantine: Path) -> int:
    """How many posts the quarantine refused are still not stored (a later walk that reads one clean stores it)."""
    ids = [int(k.removeprefix("post ")) for k in refused(quarantine, "naver-mobile") if k.startswith("post ")]
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM posts WHERE post_id = ANY(:ids)"), {"ids": ids}).scalar()
    return len(set(ids)) - stored


def check_runs(engine: sa.Engine, problems: list[str]) -> dict[str, int]:
    """No crawl run left 'running' once the day's runs are over (a killed one is marked by the next);
    the day's run records by status."""
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.text("SELECT status, count(*) FROM crawl_runs GROUP BY status")).all())
    if statuses.get("running"):
        problems.append(f"{statuses['running']} crawl run(s) still 'running' after the day's DAG runs")
    return statuses


_SCORED = {"board": ("posts", "post_scores", "s.post_id = i.post_id"),
           "news": ("news", "news_scores", "s.office_id = i.office_id AND s.article_id = i.article_id")}


def check_index(engine: sa.Engine, source: str, version: int, problems: list[str]) -> int:
    """Every item of ``source`` (board or news) scored by its champion ``version``, and its daily index
    equal to a rebuild; index rows checked."""
    from finsent.ml.daily_index import BOARD_INDEX, refresh_daily_index
    from finsent.ml.news_index import NEWS_INDEX

    items, scores, match = _SCORED[source]
    with engine.connect() as conn:
        unscored = conn.execute(sa.text(f"SELECT count(*) FROM {items} i WHERE NOT EXISTS (SELECT 1 FROM {scores} s "
                                        f"WHERE s.model_version = :v AND s.ticker = i.ticker AND {match})"),
                                {"v": version}).scalar()
    if unscored:
        problems.append(f"{unscored} {source} item(s) without a score of v{version}")
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute("DELETE FROM daily_sentiment_state WHERE source = %s AND model_version = %s", (source, version))
            rebuilt = refresh_daily_index(cur, version, {"board": BOARD_INDEX, "news": NEWS_INDEX}[source])
    finally:
        raw.rollback()  # the rebuild is only compared: the soak goes on with the incremental index
        raw.close()
    if rebuilt.rewritten:
        problems.append(f"{source} daily index v{version}: a rebuild rewrites {rebuilt.rewritten} of {rebuilt.rows} "
                        "row(s)")
    return rebuilt.rows
