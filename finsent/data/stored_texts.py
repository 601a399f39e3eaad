"""Snapshot rows with their board posts' stored texts: what a registered version is given when it is
evaluated on a snapshot (``finsent evaluate``, the Models page) or compared with a challenger on it.

A champion made to read bodies or comments, compared on a ``--text title`` (or ``title+body``)
snapshot, would otherwise read the frozen NULLs and lose what it was made to read: a challenger
would beat it by the champion's handicap, not its own skill. So the champion reads each board
row's stored body and the comments written before the row's session opened
(:mod:`finsent.data.post_comments`), and composes them by its own text spec, as ``finsent score``
would give them to it; news and comment rows keep what the snapshot froze (a news body is its
summary; a comment has none).
"""

from __future__ import annotations

import pandas as pd
from psycopg2.extras import execute_values
from sqlalchemy.engine import Engine

from finsent.data.post_comments import comments_before_sql
from finsent.data.sources import BOARD
from finsent.db import raw_connection

_STORED = f"""
SELECT k.ticker, k.post_id, p.body, {comments_before_sql("k.ticker", "k.post_id", "k.session_date")}
FROM stored_keys k JOIN posts p ON p.ticker = k.ticker AND p.post_id = k.post_id"""


def with_stored_texts(engine: Engine, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (ticker, post_id, session_date, title[, body, source]) in their order and index, their
    board posts' ``body`` as stored and ``comments`` before their session added; rows whose post is
    gone keep their frozen body."""
    board = rows["source"].eq(BOARD.name) if "source" in rows else rows["post_id"].gt(0)
    if not len(rows) or not board.any():
        return rows
    keys = rows.loc[board, ["ticker", "post_id", "session_date"]]
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute("CREATE TEMP TABLE stored_keys (ticker text, post_id bigint, session_date date) ON COMMIT DROP")
        execute_values(cur, "INSERT INTO stored_keys VALUES %s",
                       [(t, int(p), d) for t, p, d in keys.itertuples(index=False, name=None)], page_size=5000)
        cur.execute(_STORED)
        stored = pd.DataFrame(cur.fetchall(), columns=["ticker", "post_id", "stored_body", "comments"])
    merged = rows.reset_index(drop=True).merge(stored, on=["ticker", "post_id"], how="left")
    found = board.to_numpy() & merged["stored_body"].notna().to_numpy()
    frozen = merged["body"] if "body" in merged else pd.Series([None] * len(merged), dtype=object)
    merged["body"] = merged["stored_body"].where(found, frozen)
    merged.index = rows.index
    return merged.drop(columns="stored_body")
