"""The first dataset build after a 200-board backfill (issue 32 #1), before and after, in one run.

Synthetic universe: ``--tickers`` stocks with ``--sessions`` business-day sessions each and
``--posts`` posts, loaded by SQL; the posts and prices are analysed (the ingest writers do so).
Labels under both standard definitions and the quality flags are then written *as before issue 32*:
the writers' own ANALYZE is switched off for that step, so the planner knows nothing of the labels
written a minute earlier (autovacuum is off on the scratch tables: it would come in its own time).

Rows (each the whole ``finsent dataset build`` of the same spec, into a new snapshot):

1. baseline: the build reading the ``sessions`` view, labels not analysed (as before; it is cancelled
   after ``--baseline-timeout`` seconds: the issue's took hours);
2. the build reading sessions made once (``SESSIONS_SQL``), labels still not analysed;
3. the writers' ANALYZE (labels, quality flags), timed: what each bulk writer now adds;
4. the old read after that ANALYZE;
5. the shipped path: sessions made once, labels analysed.

    python bench/dataset.py [--tickers 200] [--sessions 250] [--posts 384400] [--baseline-timeout 900]
                            [--database-url URL] [--tiny]

Without --database-url (or FINSENT_DATABASE_URL) it runs on an embedded Postgres, default settings.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, print_table, scratch_database
from finsent.data import build, labels, quality
from finsent.data.build import DatasetSpec, build_dataset
from finsent.data.labels import STANDARD_DEFINITIONS, LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.db import analyze_written

WRITTEN = ("posts", "prices", "labels", "post_quality", "post_flags", "news", "news_labels", "news_flags")
BASELINE = "1. before: sessions view, labels not analysed"


def make_universe(engine: sa.Engine, tickers: int, sessions: int, posts: int) -> None:
    """Tickers S00000.., business-day sessions from 2024-01-02 with a wandering close, posts spread
    over them at random hours (seeded), titles from a few words."""
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        for table in WRITTEN:
            cur.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
        cur.execute("SELECT setseed(0.32)")
        cur.execute("INSERT INTO tickers (code, name) SELECT 'S' || lpad(g::text, 5, '0'), 'synthetic ' || g "
                    "FROM generate_series(1, %s) g", (tickers,))
        cur.execute("""
            INSERT INTO prices (ticker, trade_date, open, high, low, close, volume, adjusted, source)
            SELECT t.code, d.day, c.o, greatest(c.o, c.c), least(c.o, c.c), c.c, 1000, true, 'bench'
            FROM (SELECT code FROM tickers WHERE code LIKE 'S%%') t
            CROSS JOIN (SELECT day::date, row_number() OVER (ORDER BY day) AS n
                        FROM generate_series(date '2024-01-02', date '2024-01-02' + %s * 2, interval '1 day') day
                        WHERE extract(isodow FROM day) < 6 LIMIT %s) d
            CROSS JOIN LATERAL (SELECT round((10000 + 300 * sin(d.n / 3.0 + ascii(substr(t.code, 6)))
                                              + 200 * cos(d.n / 7.0))::numeric, 0) AS c,
                                       round((10000 + 300 * sin((d.n - 1) / 3.0 + ascii(substr(t.code, 6)))
                                              + 200 * cos((d.n - 1) / 7.0))::numeric, 0) AS o) c""",
                    (sessions, sessions))
        cur.execute("""
            INSERT INTO posts (ticker, post_id, posted_at, title, source)
            SELECT codes[1 + (g %% array_length(codes, 1))], g,
                   timestamptz '2024-01-02 00:00+09' + random() * (%s * interval '1 day'),
                   (ARRAY['가즈아', '손절', '반등', '물린다', '실적', '매수'])[1 + (g %% 6)] || ' ' || g, 'bench'
            FROM generate_series(1, %s) g,
                 (SELECT array_agg(code ORDER BY code) AS codes FROM tickers WHERE code LIKE 'S%%') t""",
                    (sessions * 7 // 5, posts))
        cur.execute("ANALYZE posts")  # what the ingest writers now do
        cur.execute("ANALYZE prices")
    raw.commit()
    raw.close()


@contextmanager
def writers_as_before():
    """The label and quality writers without their ANALYZE (issue 32): the state the build met."""
    saved = labels.analyze_written, quality.analyze_after_write
    labels.analyze_written = lambda engine, written: []
    quality.analyze_after_write = lambda cursor, table, written: False
    try:
        yield
    finally:
        labels.analyze_written, quality.analyze_after_write = saved


@contextmanager
def sessions_read(materialised: bool):
    """The build's read of the sessions: made once (shipped) or the view joined per row (before)."""
    saved = build.SESSIONS_TABLE, build.SESSIONS_SQL
    if not materialised:
        build.SESSIONS_TABLE, build.SESSIONS_SQL = "sessions", "SELECT 1"
    try:
        yield
    finally:
        build.SESSIONS_TABLE, build.SESSIONS_SQL = saved


def timed_build(engine: sa.Engine, name: str, data_dir: Path, timeout_s: float) -> tuple[float, int | None, str]:
    """Seconds, rows and content hash of one build (rows None: cancelled at ``timeout_s``)."""
    bounded = sa.create_engine(engine.url, connect_args={"options": f"-c statement_timeout={int(timeout_s * 1000)}"})
    started = time.perf_counter()
    try:
        summary = build_dataset(bounded, name, DatasetSpec(), data_dir)
        rows, content_hash = summary.rows, summary.content_hash
    except sa.exc.OperationalError as exc:
        if "statement timeout" not in str(exc):
            raise
        rows, content_hash = None, ""
    finally:
        bounded.dispose()
    return time.perf_counter() - started, rows, content_hash


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=250)
    parser.add_argument("--posts", type=int, default=384_400)
    parser.add_argument("--baseline-timeout", type=float, default=900.0, help="seconds before the old build is "
                        "cancelled (default 900)")
    parser.add_argument("--database-url", default=os.environ.get("FINSENT_DATABASE_URL"))
    parser.add_argument("--tiny", action="store_true", help="3 stocks, 30 sessions, 2,000 posts (the suite)")
    args = parser.parse_args()
    if args.tiny:
        args.tickers, args.sessions, args.posts, args.baseline_timeout = 3, 30, 2_000, 120.0
    logging.basicConfig(level=logging.WARNING)
    data_dir = Path(tempfile.mkdtemp(prefix="finsent-bench-data-"))
    with scratch_database(args.database_url) as engine:
        print(f"generating {args.tickers} stocks x {args.sessions} sessions, {args.posts:,} posts ...", flush=True)
        started = time.perf_counter()
        make_universe(engine, args.tickers, args.sessions, args.posts)
        with writers_as_before():
            for rule in STANDARD_DEFINITIONS:
                label_posts(engine, LabelDefinition.build(rule))
            check_quality(engine)
        with engine.connect() as conn:
            n_labels = conn.exec_driver_sql("SELECT count(*) FROM labels").scalar() or 0
            rows_known = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'labels'").scalar()
        print(f"  {n_labels:,} labels written in {time.perf_counter() - started:.0f}s; the planner knows of "
              f"{rows_known:.0f}", flush=True)
        results, hashes = [], set()
        for name, materialised in ((BASELINE, False), ("2. sessions made once, labels not analysed", True)):
            with sessions_read(materialised):
                seconds, rows, content_hash = timed_build(engine, f"b{len(results)}", data_dir, args.baseline_timeout)
            hashes |= {content_hash} - {""}
            note = f"{rows:,} rows" if rows is not None else f"cancelled after {args.baseline_timeout:.0f} s"
            results.append(Result(name, n_labels, seconds, "l/s", note))
            print(f"  {name}: {seconds:.1f}s ({note})", flush=True)
        started = time.perf_counter()
        analysed = analyze_written(engine, {"labels": n_labels, "post_quality": args.posts, "post_flags": 1})
        results.append(Result("3. the writers' ANALYZE (" + ", ".join(analysed) + ")", n_labels,
                              time.perf_counter() - started, "l/s", "added to the label and quality runs"))
        for name, materialised in (("4. sessions view, labels analysed", False),
                                   ("5. shipped: sessions made once, labels analysed", True)):
            with sessions_read(materialised):
                seconds, rows, content_hash = timed_build(engine, f"b{len(results)}", data_dir, args.baseline_timeout)
            hashes |= {content_hash} - {""}
            results.append(Result(name, n_labels, seconds, "l/s", f"{rows:,} rows" if rows is not None else
                                  f"cancelled after {args.baseline_timeout:.0f} s"))
    if len(hashes) != 1:
        raise SystemExit(f"the builds differ: {len(hashes)} content hashes")
    print(f"every finished build has the same content hash ({next(iter(hashes))[:12]})")
    print_table(f"first dataset build after a backfill: {args.tickers} stocks, {n_labels:,} labels (labels/s; "
                "a cancelled baseline's rate is an upper bound)", results, reference=BASELINE)


if __name__ == "__main__":
    main()
