"""The daily path at scale: one new day against the same steps done from scratch, in one run.

Synthetic universe: ``--tickers`` stocks, ``--history`` posts over ``--days`` calendar days
(business-day sessions), COPY-loaded; a TF-IDF baseline is trained through ``finsent train`` on one
ticker's quarter and registered in a scratch MLflow store. From scratch: label every post
(``next_open_close``), score every post (``finsent score``: the baseline, then the index's first
build) and rebuild the daily index alone. Then one new day arrives (``--day-posts`` posts and a
session for every stock) and the same three steps run incrementally. Goal: the day's work at least
50x cheaper than from scratch, and the from-scratch index rebuild under 60 s.

    python bench/daily.py [--tickers 200] [--history 10000000] [--day-posts 50000] [--days 730]
                          [--database-url URL] [--tiny]

Without --database-url (or FINSENT_DATABASE_URL) it runs on an embedded Postgres, default settings.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import scratch_database
from bench.train import BEAR, BULL, NEUTRAL

CHUNK = 200_000  # posts per COPY chunk
KST_OFFSET = timedelta(hours=9)


def synthetic_titles(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join([*rng.sample(NEUTRAL, rng.randint(2, 6)), rng.choice(BULL + BEAR)]) for _ in range(n)]


def add_universe(engine, tickers: int, first: date, last: date) -> list[str]:
    """``tickers`` stocks and a business-day price series for each from ``first`` to ``last``."""
    codes = [f"{100000 + i:06d}" for i in range(tickers)]
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        cur.execute("INSERT INTO tickers (code, name) SELECT c, 'bench ' || c FROM unnest(%s::text[]) c", (codes,))
        add_sessions(cur, codes, first, last)
    raw.commit()
    raw.close()
    return codes


def add_sessions(cur, codes: list[str], first: date, last: date) -> None:
    cur.execute("""
        INSERT INTO prices (ticker, trade_date, open, high, low, close, volume, adjusted, source)
        SELECT c, d::date, o, greatest(o, cl), least(o, cl), cl, 1000, true, 'bench'
        FROM unnest(%(codes)s::text[]) c
        CROSS JOIN generate_series(%(first)s::date, %(last)s::date, interval '1 day') d
        CROSS JOIN LATERAL (SELECT round((1000 + 100 * sin(extract(epoch FROM d) / 86400 / 7 + ascii(c)
                                          + substr(c, 4)::int))::numeric, 2) AS cl,
                                   round((1000 + 100 * sin(extract(epoch FROM d) / 86400 / 7 + ascii(c)
                                          + substr(c, 4)::int - 0.3))::numeric, 2) AS o) bar
        WHERE extract(isodow FROM d) < 6""", {"codes": codes, "first": first, "last": last})


class _Lines:
    """A file-like COPY source producing posts chunk by chunk (never all in memory)."""

    def __init__(self, chunks) -> None:
        self.chunks = chunks
        self.buffer = ""

    def read(self, size: int = -1) -> str:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        if size < 0:
            size = len(self.buffer)
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out

    readline = read


def copy_posts(engine, codes: list[str], n: int, start: datetime, end: datetime, first_id: int, seed: int) -> None:
    """COPY ``n`` posts of random stocks posted between ``start`` and ``end`` (KST wall clock), ids
    rising with time like Naver's."""
    titles = synthetic_titles(5_000, seed)
    rng = np.random.default_rng(seed)
    span_us = int((end - start).total_seconds() * 1e6)
    base = np.datetime64(start.replace(tzinfo=None), "us")

    def chunks():
        offsets = np.sort(rng.integers(0, span_us, n))
        for lo in range(0, n, CHUNK):
            part = offsets[lo:lo + CHUNK]
            when = np.datetime_as_string(base + part.astype("timedelta64[us]"), unit="s")
            stock = rng.integers(0, len(codes), len(part))
            title = rng.integers(0, len(titles), len(part))
            yield "".join(f"{codes[s]}\t{first_id + lo + i}\t{w}+09\t{titles[t]}\tbench\n"
                          for i, (w, s, t) in enumerate(zip(when, stock, title)))

    raw = engine.raw_connection()
    with raw.cursor() as cur:
        cur.copy_expert("COPY posts (ticker, post_id, posted_at, title, source) FROM STDIN", _Lines(chunks()))
        cur.execute("ANALYZE posts")
    raw.commit()
    raw.close()


def rebuild_index(engine, version: int, *, since=None, from_scratch: bool) -> float:
    """Time one refresh of the version's index: from scratch (its rows and state dropped first), or
    again from the stamp ``since`` (the same scope and work as the refresh that ran then)."""
    from finsent.ml.daily_index import refresh_daily_index

    raw = engine.raw_connection()
    with raw.cursor() as cur:
        if from_scratch:
            cur.execute("DELETE FROM daily_sentiment WHERE source = 'board' AND model_version = %s", (version,))
            cur.execute("DELETE FROM daily_sentiment_state WHERE source = 'board' AND model_version = %s", (version,))
        else:
            cur.execute("UPDATE daily_sentiment_state SET built_at = %s WHERE source = 'board' AND model_version = %s",
                        (since, version))
        raw.commit()
        started = time.perf_counter()
        refresh_daily_index(cur, version)
        raw.commit()
    raw.close()
    return time.perf_counter() - started


def built_at(engine, version: int):
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT built_at FROM daily_sentiment_state WHERE source = 'board' "
                                    "AND model_version = %s", (version,)).scalar_one()


def train_baseline(engine, codes: list[str], last: date) -> int:
    """The baseline through the real path (a snapshot, ``finsent train``), on one stock's last quarter."""
    from finsent.config import load_settings
    from finsent.data.build import build_dataset
    from finsent.data.spec import DatasetSpec
    from finsent.ml.train import train_model

    settings = load_settings()
    spec = DatasetSpec(rules=(), tickers=(codes[0],), start=last - timedelta(days=90), end=last)  # no quality step here
    build_dataset(engine, "bench_daily", spec, settings.data_dir)
    outcome = train_model(settings, engine, "bench_daily", "baseline", experiment="bench-daily")
    assert outcome is not None
    return outcome.version


class Step:
    """One step's seconds, the machine's 1-minute load average when it began (other sessions share
    the two cores: a figure taken under load says so), and the rows of ``posts`` it read by
    sequential scans and through indexes (pg_stat_user_tables; every connection is closed first,
    which sends its counters)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.seconds = 0.0
        self.load = os.getloadavg()[0]
        self.reads = (0, 0)

    def posts_reads(self) -> tuple[int, int]:
        self.engine.dispose()
        time.sleep(0.5)  # the closed backends' counters reach the statistics a moment after they exit
        with self.engine.connect() as conn:
            seq, idx = conn.exec_driver_sql("SELECT coalesce(seq_tup_read, 0), coalesce(idx_tup_fetch, 0) "
                                            "FROM pg_stat_user_tables WHERE relname = 'posts'").one()
        return int(seq), int(idx)

    def run(self, fn, *args, **kwargs) -> "Step":
        before = self.posts_reads()
        self.load = os.getloadavg()[0]
        started = time.perf_counter()
        fn(*args, **kwargs)
        self.seconds = time.perf_counter() - started
        after = self.posts_reads()
        self.reads = (after[0] - before[0], after[1] - before[1])
        return self


def next_business_day(day: date) -> date:
    day += timedelta(days=1)
    while day.isoweekday() > 5:
        day += timedelta(days=1)
    return day


def run(engine, args: argparse.Namespace) -> list[tuple[str, Step, Step]]:
    from finsent.config import load_settings
    from finsent.data.labels import LabelDefinition, label_posts
    from finsent.ml.score import score_posts
    from finsent.ml.spec import ScoreSpec

    last = date(2026, 6, 30)
    first = last - timedelta(days=args.days - 1)
    definition = LabelDefinition.build("next_open_close")
    print(f"{args.tickers} tickers, {args.history:,} posts over {first} .. {last}: loading ...", flush=True)
    started = time.perf_counter()
    codes = add_universe(engine, args.tickers, first, last)
    copy_posts(engine, codes, args.history, datetime.combine(first, datetime.min.time()),
               datetime.combine(last, datetime.max.time()), 1, seed=1)
    print(f"  loaded in {time.perf_counter() - started:.0f}s; from scratch ...", flush=True)
    scratch_label = Step(engine).run(label_posts, engine, definition)
    version = train_baseline(engine, codes, last)
    scratch_score = Step(engine).run(score_posts, load_settings(), engine, ScoreSpec(alias=str(version)))
    scratch_index = Step(engine).run(rebuild_index, engine, version, from_scratch=True)
    print(f"  done; the day: {args.day_posts:,} posts and a session for every stock ...", flush=True)
    day = next_business_day(last)
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        add_sessions(cur, codes, day, day)
    raw.commit()
    raw.close()
    copy_posts(engine, codes, args.day_posts, datetime.combine(day, datetime.min.time()),
               datetime.combine(day, datetime.max.time()), args.history + 1, seed=2)
    before = built_at(engine, version)
    day_label = Step(engine).run(label_posts, engine, definition)
    day_score = Step(engine).run(score_posts, load_settings(), engine, ScoreSpec(alias=str(version)))
    day_index = Step(engine).run(rebuild_index, engine, version, since=before, from_scratch=False)
    return [("label (next_open_close)", scratch_label, day_label),
            ("score (baseline; with the index refresh)", scratch_score, day_score),
            ("daily index refresh alone", scratch_index, day_index)]


def print_results(rows: list[tuple[str, Step, Step]], args: argparse.Namespace) -> None:
    print(f"\nthe daily path: {args.tickers} tickers, {args.history:,} posts of history, a day of "
          f"{args.day_posts:,} posts (seconds; goal: the day >= 50x cheaper, the index rebuild < 60 s; load: the "
          f"1-minute load average of this {os.cpu_count()}-core machine as the step began; posts read: rows of "
          "`posts` read by sequential scans / through indexes)")
    header = (f"{'step':42s} {'from scratch':>12s} {'load':>5s} {'posts read':>21s} {'the day':>8s} {'load':>5s} "
              f"{'posts read':>17s} {'cheaper':>8s}")
    print(header)
    print("-" * len(header))
    for name, scratch, day in rows:
        print(f"{name:42s} {scratch.seconds:12.2f} {scratch.load:5.1f} "
              f"{scratch.reads[0]:>10,d}/{scratch.reads[1]:<10,d} {day.seconds:8.2f} {day.load:5.1f} "
              f"{day.reads[0]:>8,d}/{day.reads[1]:<8,d} "
              f"{scratch.seconds / day.seconds:7.1f}x")
    print("-" * len(header))
    total_scratch = sum(r[1].seconds for r in rows[:2])
    total_day = sum(r[2].seconds for r in rows[:2])
    print(f"{'label + score (the index inside score)':42s} {total_scratch:12.2f} {'':28s} {total_day:8.2f} {'':24s}"
          f"{total_scratch / total_day:7.1f}x")
    print(f"the day's work {total_scratch / total_day:.0f}x cheaper than from scratch "
          f"({'meets' if total_scratch >= 50 * total_day else 'MISSES'} the 50x goal); the index rebuilt from "
          f"scratch in {rows[2][1].seconds:.1f} s ({'under' if rows[2][1].seconds < 60 else 'OVER'} 60 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=200)
    parser.add_argument("--history", type=int, default=10_000_000, help="posts before the new day")
    parser.add_argument("--day-posts", type=int, default=50_000, help="posts of the new day")
    parser.add_argument("--days", type=int, default=730, help="calendar days of history")
    parser.add_argument("--database-url", default=os.environ.get("FINSENT_DATABASE_URL"))
    parser.add_argument("--tiny", action="store_true", help="5 tickers, 20,000 posts, 120 days: checks it runs")
    args = parser.parse_args()
    if args.tiny:
        args.tickers, args.history, args.day_posts, args.days = 5, 20_000, 2_000, 120
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="finsent-bench-daily-") as data_dir:
        # a scratch data folder and MLflow store: the benchmark's model never reaches the user's registry
        os.environ["FINSENT_DATA_DIR"] = data_dir
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        with scratch_database(args.database_url) as engine:
            rows = run(engine, args)
    print_results(rows, args)


if __name__ == "__main__":
    main()
