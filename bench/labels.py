"""Label benchmark: the set-based SQL path against a pandas ``merge_asof`` round trip.

Synthetic board: N posts over the 20 default tickers and 5.5 years (2017-06 .. 2022-12), business-day
sessions. Both methods label every post under ``next_session`` and write into ``labels``; the run
checks they agree, then prints posts/s.

    python bench/labels.py [--posts 2000000] [--database-url URL] [--tiny]

Without --database-url (or FINSENT_DATABASE_URL) it runs on an embedded Postgres, default settings.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, print_table, scratch_database
from finsent.data.labels import LabelDefinition, label_posts, register

START, END = "2017-06-01", "2022-12-30"


def make_board(engine, posts: int) -> None:
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        cur.execute(f"""
            INSERT INTO prices (ticker, trade_date, open, high, low, close, volume, adjusted, source)
            SELECT t.code, d::date, c, c, c, c, 1000, true, 'bench'
            FROM tickers t
            CROSS JOIN generate_series(date '{START}', date '{END}', interval '1 day') d
            CROSS JOIN LATERAL (SELECT round((1000 + 100 * sin(extract(epoch FROM d) / 86400 / 7
                                              + ascii(t.code)))::numeric, 2) AS c) price
            WHERE extract(isodow FROM d) < 6""")
        cur.execute(f"""
            INSERT INTO posts (ticker, post_id, posted_at, title, source)
            SELECT codes[1 + g %% 20], g,
                   timestamptz '{START} 00:00+09'
                       + random() * (timestamptz '{END} 23:59+09' - timestamptz '{START} 00:00+09'),
                   'bench', 'bench'
            FROM generate_series(1, %s) g, (SELECT array_agg(code ORDER BY code) AS codes FROM tickers) t""",
                    (posts,))
        cur.execute("ANALYZE posts")
    raw.commit()
    raw.close()


def pandas_round_trip(engine) -> int:
    """Read posts and sessions out, merge_asof to the next session open, write labels back with COPY."""
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        register(cur, LabelDefinition.build("next_session", name="pandas"))
        buffer = io.StringIO()
        cur.copy_expert("COPY (SELECT ticker, post_id, floor(extract(epoch FROM posted_at))::bigint AS ts FROM posts) "
                        "TO STDOUT WITH CSV HEADER", buffer)
        buffer.seek(0)
        posts = pd.read_csv(buffer, dtype={"ticker": "string", "post_id": "int64", "ts": "int64"})
        # late_s: how much later than 09:00 the session opens (session_hours: the CSAT day, 10:00)
        sessions = pd.read_sql("SELECT s.ticker, s.trade_date, s.close::float8 AS close, s.session_no, "
                               "extract(epoch FROM coalesce(h.opens, time '09:00') - time '09:00')::bigint AS late_s "
                               "FROM sessions s LEFT JOIN session_hours h USING (trade_date)", raw)
    # 09:00 KST is 00:00 UTC of the same date
    sessions["open_ts"] = (pd.to_datetime(sessions["trade_date"]).astype("datetime64[s]").astype("int64")
                           + sessions["late_s"])
    sessions["ticker"] = sessions["ticker"].astype("string")
    posts = posts.sort_values("ts")
    sessions = sessions.sort_values("open_ts")
    # next_session: the first session whose open (09:00 KST, or later) is strictly after the post
    merged = pd.merge_asof(posts, sessions[["ticker", "open_ts", "session_no"]], left_on="ts",
                           right_on="open_ts", by="ticker", direction="forward", allow_exact_matches=False)
    merged = merged.dropna(subset=["session_no"])
    merged["session_no"] = merged["session_no"].astype("int64")
    keyed = sessions.set_index(["ticker", "session_no"])
    entry = keyed.reindex(pd.MultiIndex.from_arrays([merged["ticker"], merged["session_no"]]))
    base = keyed.reindex(pd.MultiIndex.from_arrays([merged["ticker"], merged["session_no"] - 1]))
    merged["session_date"] = entry["trade_date"].to_numpy()
    merged["base_date"] = base["trade_date"].to_numpy()
    merged["ret"] = entry["close"].to_numpy() / base["close"].to_numpy() - 1
    merged = merged.dropna(subset=["base_date"])
    merged["label"] = np.select([merged["ret"] > 0, merged["ret"] < 0], ["up", "down"], "flat")
    out = io.StringIO()
    merged.assign(definition="pandas", target_date=merged["session_date"])[
        ["definition", "ticker", "post_id", "session_date", "base_date", "target_date", "ret", "label"]
    ].to_csv(out, index=False, header=False)
    out.seek(0)
    with raw.cursor() as cur:
        cur.copy_expert("COPY labels (definition, ticker, post_id, session_date, base_date, target_date, ret, label) "
                        "FROM STDIN WITH CSV", out)
    raw.commit()
    raw.close()
    return len(merged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=2_000_000)
    parser.add_argument("--database-url", default=os.environ.get("FINSENT_DATABASE_URL"))
    parser.add_argument("--tiny", action="store_true", help="2,000 posts: checks it runs (the suite)")
    args = parser.parse_args()
    if args.tiny:
        args.posts = 2_000
    logging.basicConfig(level=logging.WARNING)
    with scratch_database(args.database_url) as engine:
        print(f"generating {args.posts:,} posts over 20 tickers, {START} .. {END} ...", flush=True)
        started = time.perf_counter()
        make_board(engine, args.posts)
        print(f"  done in {time.perf_counter() - started:.0f}s", flush=True)
        started = time.perf_counter()
        pandas_rows = pandas_round_trip(engine)
        pandas_s = time.perf_counter() - started
        started = time.perf_counter()
        report = label_posts(engine, LabelDefinition.build("next_session"))
        sql_s = time.perf_counter() - started
        with engine.connect() as conn:
            disagree = conn.exec_driver_sql(
                "SELECT count(*) FROM labels a FULL JOIN labels b ON b.definition = 'pandas' "
                "AND a.ticker = b.ticker AND a.post_id = b.post_id WHERE a.definition = 'next_session' "
                "AND (b.label IS NULL OR a.label <> b.label OR a.session_date <> b.session_date)").scalar()
    print(f"labels written: sql {report.labelled:,}, pandas {pandas_rows:,}; disagreements: {disagree}")
    results = [Result("pandas merge_asof round trip (read, merge, COPY back)", args.posts, pandas_s, "p/s"),
               Result("finsent label (set-based SQL, two hash joins)", args.posts, sql_s, "p/s")]
    print_table("labelling posts (posts/s; goal: SQL >= 150,000 and >= 1.5x pandas)", results,
                reference="pandas merge_asof round trip (read, merge, COPY back)")


if __name__ == "__main__":
    main()
