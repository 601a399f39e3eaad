"""Change stamps and step watermarks (sql/0020): what the day's label and score runs read.

Every row written to ``posts``, ``news`` and ``prices`` (and every deleted price) carries a stamp
from one sequence, ``change_seq``. A step (``label`` per definition, ``score`` per model version)
keeps in ``step_watermarks`` the last stamp it has processed; a run reads the current stamp first
(:func:`current_stamp`), processes the rows stamped in ``(watermark, current]`` (an index range
scan of ``changed_seq``) and moves its watermark there when it is done. A run that fails leaves
the watermark where it was: the next one reads the same rows again and skips what is already done.

For labels, new posts are not all that changes: a price written or deleted at date D changes the
labels whose return runs through D, and makes labellable the posts that were waiting for it. Both
lie in the window of D's ticker from ``horizon + 1`` sessions before the earliest such D (a post
is labelled from the session before its own to the one ``horizon - 1`` after it; one session more
for margin). So a run reads, per ticker whose prices changed, its posts from there on (the
``(ticker, posted_at)`` index) and nothing older: a new session at the end of the history reads a
few days of posts, a rewrite of one ticker's history reads that ticker's posts from the rewrite on.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from finsent.db import raw_transaction


def current_stamp(engine: Engine) -> int:
    """The stamp up to which every write to the stamped tables is committed.

    The SHARE locks wait for the writers in flight (a writer holds ROW EXCLUSIVE from its first
    insert to its commit, and draws its stamps in between) and are let go at once: every stamp
    drawn so far is then committed or rolled back, and every later write draws a larger one."""
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        cur.execute("LOCK TABLE posts, news, comments, prices IN SHARE MODE")
        cur.execute("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM change_seq")
        return int(cur.fetchone()[0])


def read_watermark(cur, step: str, version: str) -> int | None:
    """The last stamp ``step`` of ``version`` processed; None: it never ran (it processes everything)."""
    cur.execute("SELECT last_seq FROM step_watermarks WHERE step = %s AND version = %s", (step, version))
    row = cur.fetchone()
    return None if row is None else int(row[0])


def move_watermark(cur, step: str, version: str, last_seq: int) -> None:
    cur.execute("INSERT INTO step_watermarks (step, version, last_seq) VALUES (%s, %s, %s) "
                "ON CONFLICT (step, version) DO UPDATE SET last_seq = EXCLUDED.last_seq, updated_at = now()",
                (step, version, last_seq))


# The stamped range of a run: (mark, upto]. Rows written before migration 0020 have no stamp and
# are never in it: a step that has a watermark has processed them already.
STAMPED = "changed_seq > %(mark)s AND changed_seq <= %(upto)s"

# Per ticker of the group whose prices changed (written, or deleted) in the run's range: the dates,
# for the stale labels, and the window of posts the changes can move (needs CALENDAR_SQL's
# label_sessions): from the session ``horizon + 1`` before the earliest change, KST midnight.
WINDOWS_SQL = f"""
CREATE INDEX ON label_sessions (ticker, trade_date);
CREATE TEMP TABLE label_changed ON COMMIT DROP AS
SELECT ticker, trade_date FROM prices WHERE {STAMPED} AND ticker = ANY(%(tickers)s)
UNION SELECT ticker, trade_date FROM price_deletions WHERE {STAMPED} AND ticker = ANY(%(tickers)s);
CREATE TEMP TABLE label_windows ON COMMIT DROP AS
SELECT c.ticker,
       coalesce((SELECT s.trade_date FROM label_sessions s WHERE s.ticker = c.ticker AND s.trade_date < c.first
                 ORDER BY s.trade_date DESC OFFSET %(horizon)s LIMIT 1), '-infinity'::date)::timestamp
           AT TIME ZONE 'Asia/Seoul' AS lower
FROM (SELECT ticker, min(trade_date) AS first FROM label_changed GROUP BY ticker) c;
ANALYZE label_changed;
ANALYZE label_windows;
"""

# Labels whose return runs through a changed date: per ticker a range of the (definition, ticker,
# target_date) index.
STALE_SQL = """
DELETE FROM {table} l USING label_changed c
WHERE l.definition = %(definition)s AND l.ticker = c.ticker
  AND l.target_date >= c.trade_date AND l.base_date <= c.trade_date
"""


def candidates_sql(name: str, table: str, keys: tuple[str, ...], time_column: str) -> str:
    """A temp table ``name`` of the rows of ``table`` a run looks at: those stamped in its range, and
    those in a changed ticker's window (their time as ``posted_at``)."""
    columns = ", ".join(("ticker", *keys, f"{time_column} AS posted_at"))
    # OFFSET 0 keeps the window a range of the (ticker, time) index per ticker: the planner cannot see
    # the bounds, guesses a third of every ticker's rows, and would hash-join a scan of the whole table.
    return f"""
CREATE TEMP TABLE {name} ON COMMIT DROP AS
SELECT {columns} FROM {table} WHERE {STAMPED} AND ticker = ANY(%(tickers)s)
UNION
SELECT r.* FROM label_windows w CROSS JOIN LATERAL (
    SELECT {columns} FROM {table} WHERE ticker = w.ticker AND {time_column} >= w.lower OFFSET 0) r;
ANALYZE {name};
"""


# A day's candidates are checked against the labels one primary-key probe each: OFFSET 0 keeps the
# NOT EXISTS a per-row subplan. As an anti-join the planner hashes every label of the definition
# (labels just written have no statistics: at 3M labels that took 16 s for 50,000 candidates).
PROBE = "OFFSET 0"

def count_unlabelled_candidates(cur, table: str, keys: tuple[str, ...], candidates: str, params: dict) -> int:
    """How many of the temp table ``candidates`` still have no label in ``table`` (one probe each)."""
    same_item = " AND ".join(f"l.{k} = c.{k}" for k in keys)
    cur.execute(f"SELECT count(*) FROM {candidates} c WHERE NOT EXISTS (SELECT 1 FROM {table} l WHERE "
                f"l.definition = %(definition)s AND l.ticker = c.ticker AND {same_item} {PROBE})", params)
    return int(cur.fetchone()[0])
