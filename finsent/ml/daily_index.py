"""The daily sentiment index, brought up to date incrementally.

Per stock and session: the posts written before that session opened (the next_session rule of the
labels; sessions not traded yet are the next weekday), quality-flagged posts left out. Only what
changed since the version's last build is recomputed, and only rows whose values differ are
written, so untouched rows keep their identity:

- posts scored since then, and posts whose flags were added or removed: their (stock, session);
- a stock whose prices changed (a new session, a rewritten history) or lost a session (a bar the
  feed no longer lists: ``price_deletions``, logged by a trigger on ``prices``): its sessions after
  the last unchanged session before the earliest change (the day-to-session map can move only there);
- no build yet, or flags truncated (``quality check --recheck``): everything.

The build's stamp is taken under SHARE locks on ``prices`` and ``post_flags``: a change committed
after it carries a later stamp, so the next build sees it. One index per source (``IndexSource``):
the board's here, the news' in :mod:`finsent.ml.news_index` (its flags and story merges logged
alike); the versions of the two registered models are numbered apart, so every row and stamp
carries its source. A deleted session is logged in the same transaction as the delete (a statement
trigger on ``prices``), so the SHARE lock on ``prices`` orders it before or after the stamp too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from finsent.data.labels import CALENDAR_SQL, late_openings, post_day_sql
from finsent.data.sources import BOARD

log = logging.getLogger(__name__)

# The session an item (a post, an article: ``p`` with ``ticker`` and ``posted_at``) counts for
# (needs CALENDAR_SQL's label_days and label_sessions): the labels' day map, with the later
# openings of session_hours (10:00 on the CSAT day) put in at run time. Public: the news index
# (finsent.ml.news_index) is built from the same parts.
POST_DAY = "__POST_DAY__"
SESSION = ("coalesce(e.trade_date, d.day + CASE extract(isodow FROM d.day) WHEN 6 THEN 2 WHEN 7 THEN 1 "
           "ELSE 0 END)::date")
POST_SESSION = f"""
CROSS JOIN LATERAL (SELECT ({POST_DAY})::date AS day) d
LEFT JOIN label_days m ON m.ticker = p.ticker AND m.day = d.day
LEFT JOIN label_sessions e ON e.ticker = p.ticker AND e.session_no = m.session_no"""


@dataclass(frozen=True)
class IndexSource:
    """What one source's index is made of; the incremental machinery below is the same for all."""

    name: str  # daily_sentiment.source
    lock: str  # the tables whose writes the build's stamp must come after (SHARE locks)
    changes: str  # the log of items whose flags (or story) changed: ticker NULL = everything
    scores: str  # the scores table (analysed before a rebuild)
    # SELECT DISTINCT p.ticker, {SESSION} AS session_date of the items scored (%(version)s) or
    # changed since %(since)s
    changed_keys: str
    # SELECT ticker, session_date, n_posts, mean_p_up, bull_share over the items posted from
    # idx_bounds.lower on (the votes of each scoped ticker's sessions)
    votes: str


# The votes' rows (the board's: each scoped ticker's unflagged posts from its bound on, with their
# scores), put in at run time. A rebuild (every bound -infinity) hashes all of them together; a
# day's refresh reads a few sessions of posts per ticker, and OFFSET 0 keeps its subqueries per
# ticker and per post (index ranges of posts, primary-key probes of scores and flags): the planner
# cannot see the bounds and would otherwise hash every score of the version to join a few thousand.
SCORED_POSTS = "__SCORED_POSTS__"
_BOARD_SCORED_POSTS = {
    True: """JOIN posts p ON p.ticker = b.ticker AND p.posted_at >= b.lower
JOIN post_scores s ON s.model_version = %(version)s AND s.ticker = p.ticker AND s.post_id = p.post_id
  AND NOT EXISTS (SELECT 1 FROM post_flags f WHERE f.ticker = p.ticker AND f.post_id = p.post_id)""",
    False: """CROSS JOIN LATERAL (SELECT p.ticker, p.post_id, p.posted_at FROM posts p
    WHERE p.ticker = b.ticker AND p.posted_at >= b.lower
      AND NOT EXISTS (SELECT 1 FROM post_flags f WHERE f.ticker = p.ticker AND f.post_id = p.post_id) OFFSET 0) p
CROSS JOIN LATERAL (SELECT s.p_up FROM post_scores s WHERE s.model_version = %(version)s AND s.ticker = p.ticker
    AND s.post_id = p.post_id OFFSET 0) s""",
}

_BOARD_KEYS = f"""
SELECT DISTINCT p.ticker, {SESSION} AS session_date
FROM (SELECT ticker, post_id FROM post_scores WHERE model_version = %(version)s AND scored_at > %(since)s
      UNION SELECT ticker, post_id FROM post_flag_changes WHERE changed_at > %(since)s AND ticker IS NOT NULL) c
JOIN posts p ON p.ticker = c.ticker AND p.post_id = c.post_id
{POST_SESSION}"""
_BOARD_VOTES = f"""
SELECT p.ticker, {SESSION} AS session_date, count(*)::int AS n_posts, avg(s.p_up)::float8 AS mean_p_up,
       avg((s.p_up > 0.5)::int)::float8 AS bull_share
FROM idx_bounds b
{SCORED_POSTS}
{POST_SESSION}
GROUP BY 1, 2"""
BOARD_INDEX = IndexSource(BOARD.index, f"prices, {BOARD.flags}", "post_flag_changes", BOARD.scores, _BOARD_KEYS,
                          _BOARD_VOTES)

# Scope: exact (ticker, session) keys, and per ticker "every session after after_date" (NULL: all).
_SCOPE = """
CREATE TEMP TABLE idx_keys ON COMMIT DROP AS {keys};
CREATE TEMP TABLE idx_from ON COMMIT DROP AS
SELECT c.ticker, (SELECT max(s.trade_date) FROM label_sessions s
                  WHERE s.ticker = c.ticker AND s.trade_date < c.first_changed) AS after_date
FROM (SELECT ticker, min(trade_date) AS first_changed FROM (
          SELECT ticker, trade_date FROM prices WHERE fetched_at > %(since)s
          UNION ALL SELECT ticker, trade_date FROM price_deletions WHERE deleted_at > %(since)s) w
      GROUP BY ticker) c;
CREATE INDEX ON idx_keys (ticker, session_date);
CREATE INDEX ON idx_from (ticker);
ANALYZE idx_keys;
ANALYZE idx_from;
"""
_EVERYTHING = """
CREATE TEMP TABLE idx_keys (ticker text, session_date date) ON COMMIT DROP;
CREATE TEMP TABLE idx_from ON COMMIT DROP AS SELECT code AS ticker, NULL::date AS after_date FROM tickers;
CREATE INDEX ON idx_from (ticker);
ANALYZE idx_from;
"""
_IN_SCOPE = """(EXISTS (SELECT 1 FROM idx_keys k WHERE k.ticker = {t} AND k.session_date = {s})
 OR EXISTS (SELECT 1 FROM idx_from r WHERE r.ticker = {t} AND (r.after_date IS NULL OR {s} > r.after_date)))"""

# Items posted before the session preceding a key's session cannot count for it: read each scoped
# ticker's items from there on only.
_FRESH = f"""
CREATE TEMP TABLE idx_bounds ON COMMIT DROP AS
SELECT ticker, min(lower)::timestamp AT TIME ZONE 'Asia/Seoul' AS lower FROM (
    SELECT k.ticker, coalesce((SELECT max(s.trade_date) FROM label_sessions s WHERE s.ticker = k.ticker
                               AND s.trade_date < k.session_date), '-infinity'::date) AS lower FROM idx_keys k
    UNION ALL SELECT ticker, coalesce(after_date, '-infinity'::date) FROM idx_from) b
GROUP BY ticker;
ANALYZE idx_bounds;
CREATE TEMP TABLE idx_fresh ON COMMIT DROP AS {{votes}};
DELETE FROM idx_fresh f WHERE NOT {_IN_SCOPE.format(t='f.ticker', s='f.session_date')};
CREATE INDEX ON idx_fresh (ticker, session_date);
ANALYZE idx_fresh;
"""
# The source's and version's rows in scope: the exact keys, and each idx_from ticker's sessions
# after its date (a range of the primary key per ticker, not a probe of every row of the version).
_OURS = "d.source = %(source)s AND d.model_version = %(version)s"
_SCOPED_ROWS = f"""
SELECT ticker, session_date FROM idx_keys
UNION SELECT d.ticker, d.session_date FROM idx_from r JOIN daily_sentiment d ON {_OURS}
    AND d.ticker = r.ticker AND (r.after_date IS NULL OR d.session_date > r.after_date)"""
# Float averages may differ in the last bits with the summation order: not a change.
_APPLY = (
    f"DELETE FROM daily_sentiment d USING ({_SCOPED_ROWS}) k WHERE {_OURS} "
    "AND d.ticker = k.ticker AND d.session_date = k.session_date "
    "AND NOT EXISTS (SELECT 1 FROM idx_fresh f WHERE f.ticker = d.ticker AND f.session_date = d.session_date)",
    "UPDATE daily_sentiment d SET n_posts = f.n_posts, mean_p_up = f.mean_p_up, bull_share = f.bull_share, "
    f"updated_at = now() FROM idx_fresh f WHERE {_OURS} AND d.ticker = f.ticker "
    "AND d.session_date = f.session_date AND (d.n_posts <> f.n_posts OR abs(d.mean_p_up - f.mean_p_up) > 1e-9 "
    "OR abs(d.bull_share - f.bull_share) > 1e-9)",
    "INSERT INTO daily_sentiment (source, model_version, ticker, session_date, n_posts, mean_p_up, bull_share) "
    "SELECT %(source)s, %(version)s, f.ticker, f.session_date, f.n_posts, f.mean_p_up, f.bull_share FROM idx_fresh f "
    f"WHERE NOT EXISTS (SELECT 1 FROM daily_sentiment d WHERE {_OURS} "
    "AND d.ticker = f.ticker AND d.session_date = f.session_date)",
)


@dataclass
class IndexRefresh:
    rows: int  # the version's daily_sentiment rows now
    rewritten: int  # rows deleted, updated or inserted by this refresh
    full: bool  # recomputed from scratch


def refresh_daily_index(cur, version: int, source: IndexSource = BOARD_INDEX) -> IndexRefresh:
    """Bring ``daily_sentiment`` of ``source`` (default the board) and ``version`` up to date inside
    the caller's transaction."""
    cur.execute(f"LOCK TABLE {source.lock} IN SHARE MODE")
    cur.execute("SELECT clock_timestamp()")
    (stamp,) = cur.fetchone()
    since = _last_build(cur, version, source)
    # Temp tables get no statistics and no index on their own: without them each scoped key scans the
    # whole calendar, and the inflated estimates set off JIT compiles slower than the queries.
    cur.execute("SET LOCAL jit = off")
    if since is None:
        # A rebuild follows the scoring of a whole version: scores just written have no statistics
        # yet (autovacuum comes later), and the planner's guess turns a 15 s join into minutes.
        cur.execute(f"ANALYZE {source.scores}")
    cur.execute(CALENDAR_SQL)
    cur.execute("CREATE INDEX ON label_sessions (ticker, trade_date)")
    # a post's session by number: without it, scores just written (no statistics yet, a handful by the
    # planner's guess) join each post with every session of its ticker (50,000 posts: 26M rows, 5 s)
    cur.execute("CREATE INDEX ON label_sessions (ticker, session_no)")
    post_day = post_day_sql("next_open_close", late_openings(cur))
    params = {"version": version, "since": since, "source": source.name}
    scope = _SCOPE.replace("{keys}", source.changed_keys) if since is not None else _EVERYTHING
    cur.execute(scope.replace(POST_DAY, post_day), params)
    votes = source.votes.replace(SCORED_POSTS, _BOARD_SCORED_POSTS[since is None])
    cur.execute(_FRESH.replace("{votes}", votes).replace(POST_DAY, post_day), params)
    rewritten = 0
    for statement in _APPLY:
        cur.execute(statement, params)
        rewritten += cur.rowcount
    cur.execute("INSERT INTO daily_sentiment_state (source, model_version, built_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (source, model_version) DO UPDATE SET built_at = EXCLUDED.built_at",
                (source.name, version, stamp))
    # the change log is needed only back to the oldest build of any version of the source
    cur.execute(f"DELETE FROM {source.changes} WHERE changed_at < (SELECT min(built_at) FROM daily_sentiment_state "
                "WHERE source = %s)", (source.name,))
    cur.execute("SELECT count(*) FROM daily_sentiment WHERE source = %s AND model_version = %s",
                (source.name, version))
    rows = cur.fetchone()[0]
    log.info("%s v%d: daily_sentiment %s: %d row(s) rewritten, %d in all", source.name, version,
             "rebuilt" if since is None else "updated", rewritten, rows)
    return IndexRefresh(rows, rewritten, since is None)


def _last_build(cur, version: int, source: IndexSource):
    """When the index of ``source`` and ``version`` was last built; None: rebuild it all (never
    built, or every flag changed since)."""
    cur.execute("SELECT built_at FROM daily_sentiment_state WHERE source = %s AND model_version = %s",
                (source.name, version))
    found = cur.fetchone()
    since = found[0] if found else None
    if since is not None:
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM {source.changes} WHERE changed_at > %s AND ticker IS NULL)",
                    (since,))
        if cur.fetchone()[0]:
            since = None
    return since
