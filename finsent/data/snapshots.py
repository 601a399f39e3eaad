"""Reading frozen dataset snapshots: list them, show one, load one of its parts, its hash."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from sqlalchemy.engine import Engine

from finsent.db import raw_connection
from finsent.errors import ConfigError

SPLITS = ("train", "valid", "test")


def show_dataset(engine: Engine, name: str, stream: TextIO = sys.stdout) -> None:
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute("SELECT spec, content_hash, rows, created_at FROM datasets WHERE name = %s", (name,))
        row = cur.fetchone()
        if row is None:
            raise ConfigError(f"no dataset named {name!r}; see `finsent dataset list`")
        spec, content_hash, rows, created_at = row
        cur.execute("SELECT split, label, count(*), min(session_date), max(session_date) FROM dataset_rows "
                    "WHERE dataset = %s GROUP BY split, label", (name,))
        by_label = cur.fetchall()
        cur.execute("SELECT split, min(session_date), max(session_date), count(DISTINCT session_date) "
                    "FROM dataset_rows WHERE dataset = %s GROUP BY split", (name,))
        spans = {r[0]: r[1:] for r in cur.fetchall()}
        cur.execute("SELECT ticker, split, count(*) FROM dataset_rows WHERE dataset = %s GROUP BY ticker, split "
                    "ORDER BY ticker", (name,))
        by_ticker = cur.fetchall()
    stream.write(f"dataset {name}  ({rows} rows, created {created_at:%Y-%m-%d %H:%M})\n")
    stream.write(f"content hash  {content_hash}\n")
    stream.write(f"spec          {json.dumps(spec, ensure_ascii=False, sort_keys=True)}\n\n")
    stream.write(f"{'split':6s} {'up':>8s} {'down':>8s} {'total':>8s} {'up share':>9s}  sessions  date range\n")
    for part in SPLITS:
        counts = {label: n for split, label, n, *_ in by_label if split == part}
        total = sum(counts.values())
        if part in spans:
            first, last, sessions = spans[part]
            span = f"{sessions:8d}  {first} .. {last}"
        else:
            span = f"{0:8d}  -"
        share = f"{counts.get('up', 0) / total:9.1%}" if total else f"{'-':>9s}"
        stream.write(f"{part:6s} {counts.get('up', 0):8d} {counts.get('down', 0):8d} {total:8d} {share}  {span}\n")
    stream.write(f"\n{'ticker':8s} {'train':>8s} {'valid':>8s} {'test':>8s}\n")
    tickers = sorted({t for t, _, _ in by_ticker})
    for ticker in tickers:
        cells = {split: n for t, split, n in by_ticker if t == ticker}
        stream.write(f"{ticker:8s} " + " ".join(f"{cells.get(s, 0):8d}" for s in SPLITS) + "\n")


def list_datasets(engine: Engine, stream: TextIO = sys.stdout) -> None:
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute("SELECT name, rows, content_hash, created_at, spec->>'definition', spec->>'split' "
                    "FROM datasets ORDER BY created_at")
        for name, rows, content_hash, created_at, definition, split in cur.fetchall():
            stream.write(f"{name:24s} {rows:9d} rows  {definition:16s} {split:6s} {content_hash[:12]}  "
                         f"{created_at:%Y-%m-%d %H:%M}\n")


_SPLIT_ROWS = """
WITH rows AS (
    SELECT d.ticker, d.post_id, p.title, p.posted_at, d.label, d.session_date, l.ret, l.base_date
    FROM dataset_rows d
    JOIN datasets ds ON ds.name = d.dataset
    JOIN posts p ON p.ticker = d.ticker AND p.post_id = d.post_id
    JOIN labels l ON l.definition = ds.spec->>'definition' AND l.ticker = d.ticker AND l.post_id = d.post_id
    WHERE d.dataset = %(name)s AND d.split = %(split)s
)
SELECT r.ticker, r.post_id, r.title, r.label, r.session_date, r.ret,
       -- yesterday's direction: the move of the last session that had closed when the post was written
       CASE WHEN last.close > before.close THEN 1.0 WHEN last.close < before.close THEN 0.0 ELSE 0.5 END
           AS previous_session_up
FROM rows r
JOIN sessions b ON b.ticker = r.ticker AND b.trade_date = r.base_date
LEFT JOIN sessions last ON last.ticker = r.ticker AND last.session_no = b.session_no
     - CASE WHEN r.posted_at >= (r.base_date + time '15:30') AT TIME ZONE 'Asia/Seoul' THEN 0 ELSE 1 END
LEFT JOIN sessions before ON before.ticker = r.ticker AND before.session_no = last.session_no - 1
ORDER BY r.ticker, r.post_id
"""


def load_split(engine: Engine, name: str, split: str):
    """One part of a snapshot as a DataFrame (ticker, post_id, title, label, session_date, ret,
    previous_session_up); a missing snapshot is an error."""
    import pandas as pd

    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}")
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute("SELECT 1 FROM datasets WHERE name = %s", (name,))
        if cur.fetchone() is None:
            raise ConfigError(f"no dataset snapshot named {name!r}; build it with `finsent dataset build {name}`")
        cur.execute(_SPLIT_ROWS, {"name": name, "split": split})
        columns = [c.name for c in cur.description]
        frame = pd.DataFrame(cur.fetchall(), columns=columns)
    frame["ret"] = frame["ret"].astype(float)
    frame["previous_session_up"] = frame["previous_session_up"].astype(float)
    return frame


def dataset_hash(engine: Engine, name: str) -> str:
    with engine.connect() as conn:
        value = conn.exec_driver_sql("SELECT content_hash FROM datasets WHERE name = %(n)s", {"n": name}).scalar()
    if value is None:
        raise ConfigError(f"no dataset snapshot named {name!r}")
    return value
