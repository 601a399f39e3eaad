"""``finsent label``: forward-looking labels, written set-based in SQL.

A *session* is a (ticker, trade_date) price row with volume > 0; the regular session runs
09:00-15:30 KST and every board timestamp is KST. Definitions (several coexist, by name):

- ``next_open_close`` (standard, the default for datasets and backtests; tradable): the post's
  session is the first one that opens (09:00 KST, or the later opening ``session_hours`` lists,
  e.g. 10:00 on the CSAT day) strictly after ``posted_at``. The return runs from that session's
  open to the close ``horizon`` sessions on (1 = that session's own close): the move a reader of
  the post can still trade on the exchange. A session with no open (0) gives no label.
- ``next_session`` (standard): the same session, but the return runs from the close of the
  session before it. Not tradable: part of the move is public after the close (KRX after-hours
  16:00-18:00, Nextrade 15:30-20:00 since 2025-03, the US session), so a post written in the
  evening may already know the overnight gap it is "predicting".
- ``same_day`` (the 2023 study): the post's KST calendar date must itself be a session; the
  return of ``next_session``. A post written at 20:00 gets the move that already happened: the
  leak the study had.

Every label stores the session before the post's session as ``base_date`` (all rules need it:
a price written anywhere between it and ``target_date`` relabels the post), the post's session as
``session_date`` and the last session of the return as ``target_date``.

``|ret| < band`` (and ``ret == 0``) is labelled ``flat``; datasets use only up/down. A post with no
later price yet gets no label (not a guess); the next run labels it once the price is there.

No relabel is lost to a race: each group of tickers is labelled in one transaction that first takes
a SHARE lock on ``prices`` (it waits for price writes in flight and keeps new ones out until it
commits), deletes the labels whose prices changed since they were written (``prices.fetched_at`` is
stamped when a row is written) and writes the missing ones. A failure rolls all of it back. Two
runs of one definition never overlap (an advisory lock; the second waits).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal, InvalidOperation

from sqlalchemy.engine import Engine

from finsent.data import changes
from finsent.data.sources import BOARD, NEWS, TEXT_SOURCES, TextSource, source_of_table
from finsent.db import advisory_lock, analyze_written, raw_transaction
from finsent.errors import ConfigError
from finsent.names import check_name

log = logging.getLogger(__name__)

# A label rule says which move a post is labelled by; a label definition is a rule with a horizon
# and a band, stored under a name (quality rules are another thing: finsent.data.quality).
LABEL_RULES = ("next_open_close", "next_session", "same_day")
FORWARD_LABEL_RULES = ("next_open_close", "next_session")  # only prices after the post
TRADABLE_LABEL_RULES = ("next_open_close",)  # only prices a reader of the post could still trade at
STANDARD_DEFINITIONS = ("next_session", "next_open_close")  # what `finsent label` writes by default


@dataclass(frozen=True)
class LabelDefinition:
    name: str
    rule: str
    horizon: int = 1
    band: Decimal = Decimal(0)

    @classmethod
    def build(cls, rule: str, *, horizon: int = 1, band: str | float | Decimal = 0,
              name: str | None = None) -> "LabelDefinition":
        if rule not in LABEL_RULES:
            raise ConfigError(f"unknown label rule {rule!r}; choose one of {', '.join(LABEL_RULES)}")
        if horizon < 1:
            raise ConfigError(f"--horizon must be at least 1, got {horizon}")
        try:
            band_value = Decimal(str(band))
        except InvalidOperation:
            raise ConfigError(f"--band {band!r} is not a number") from None
        if not band_value.is_finite() or band_value < 0:
            raise ConfigError(f"--band must be >= 0 (a fraction, e.g. 0.005 for 0.5%), got {band}")
        if name is None:
            name = (rule + (f"_h{horizon}" if horizon != 1 else "")
                    + (f"_b{band_value.normalize()}" if band_value else ""))
        check_name(name, "label definition name (--name)", lower_case=True)
        return cls(name=name, rule=rule, horizon=horizon, band=band_value)

    def command(self) -> str:
        """The ``finsent label`` command line that (re)labels under this definition."""
        options = [f"--rule {self.rule}"] + ([f"--horizon {self.horizon}"] if self.horizon != 1 else [])
        options += [f"--band {self.band.normalize()}"] if self.band else []
        derived = LabelDefinition.build(self.rule, horizon=self.horizon, band=self.band).name
        options += [f"--name {self.name}"] if self.name != derived else []
        return "finsent label " + " ".join(options)


def register(cursor, definition: LabelDefinition) -> None:
    """Record the definition; a name already used with other parameters is an error."""
    cursor.execute("SELECT rule, horizon, band FROM label_definitions WHERE name = %s", (definition.name,))
    row = cursor.fetchone()
    if row is None:
        cursor.execute("INSERT INTO label_definitions (name, rule, horizon, band) VALUES (%s, %s, %s, %s)",
                       (definition.name, definition.rule, definition.horizon, definition.band))
    elif (row[0], row[1], Decimal(row[2])) != (definition.rule, definition.horizon, definition.band):
        raise ConfigError(
            f"label definition {definition.name!r} exists with rule={row[0]} horizon={row[1]} band={row[2]}; "
            "pick another --name")


def registered_definitions(cursor) -> list[LabelDefinition]:
    """Every definition labelled so far (the standard ones and any ``--horizon``/``--band``/``--name``)."""
    cursor.execute("SELECT name, rule, horizon, band FROM label_definitions ORDER BY name")
    return [LabelDefinition(name=n, rule=r, horizon=h, band=Decimal(b)) for n, r, h, b in cursor.fetchall()]


# Labels whose prices changed after they were written and that no `finsent label` run has redone yet
# (the same test as _STALE below). Only labels older than the newest price write can be stale: that
# cut (one index lookup) leaves the per-label probe to the labels a recent price write may touch.
_STALE_COUNT = """
SELECT count(*) FROM {table} l
WHERE l.definition = %(definition)s {ticker_filter}
  AND l.labelled_at < (SELECT max(fetched_at) FROM prices)
  AND EXISTS (SELECT 1 FROM prices p WHERE p.ticker = l.ticker
              AND p.trade_date BETWEEN l.base_date AND l.target_date AND p.fetched_at > l.labelled_at)
"""


def count_stale_labels(cursor, definition: str, tickers: list[str] | None = None, table: str = "labels") -> int:
    """How many labels under ``definition`` (of ``tickers``) a price written since makes stale: a
    re-fetch, a rewritten history (a split), a late session. ``finsent label`` redoes them.
    ``table``: ``labels`` (posts) or ``news_labels`` (news articles, the same columns)."""
    cursor.execute(_STALE_COUNT.format(table=table,
                                       ticker_filter="AND l.ticker = ANY(%(tickers)s)" if tickers else ""),
                   {"definition": definition, "tickers": tickers})
    return cursor.fetchone()[0]


def load_definition(cursor, name: str) -> LabelDefinition:
    cursor.execute("SELECT rule, horizon, band FROM label_definitions WHERE name = %s", (name,))
    row = cursor.fetchone()
    if row is None:
        raise ConfigError(f"unknown label definition {name!r}; run `finsent label` (the standard ones) or "
                          f"`finsent label --rule RULE [--horizon K] [--band B] --name {name}` first")
    return LabelDefinition(name=name, rule=row[0], horizon=row[1], band=Decimal(row[2]))


# The calendar, per ticker: every session numbered, and every calendar day mapped to the first
# session on or after it (days between two sessions map to the later one). Both are small
# (tickers x days), so the label join is two hash joins over posts, one pass, no per-post probe.
CALENDAR_SQL = """
CREATE TEMP TABLE label_sessions ON COMMIT DROP AS
SELECT ticker, trade_date, open, close, session_no FROM sessions;
CREATE TEMP TABLE label_days ON COMMIT DROP AS
SELECT s.ticker, d::date AS day, s.session_no
FROM (SELECT ticker, trade_date, session_no,
             lag(trade_date) OVER (PARTITION BY ticker ORDER BY trade_date) AS previous_date
      FROM label_sessions) s
CROSS JOIN LATERAL generate_series(coalesce(s.previous_date + 1, s.trade_date), s.trade_date,
                                   interval '1 day') AS d;
ANALYZE label_sessions;
ANALYZE label_days;
"""

# The day whose session (or the first one after it) a post belongs to, in KST. Korea has had no
# daylight saving since 1988, so a fixed +09:00 is exact, and 3x cheaper than a zone-name lookup.
_KST = "(p.posted_at AT TIME ZONE INTERVAL '+09:00')"
# The day map at regular hours (09:00 opening), for readers that join label_days by day alone.
_OPENS_AFTER_POST = f"CASE WHEN {_KST}::time < time '09:00' THEN {_KST}::date ELSE {_KST}::date + 1 END"
POST_DAY_SQL = {
    # opens strictly after the post: before 09:00 that day's session, from 09:00 the next day's
    "next_open_close": _OPENS_AFTER_POST,
    "next_session": _OPENS_AFTER_POST,
    "same_day": f"{_KST}::date",
}


def post_day_sql(rule: str, late_openings: dict[time, list[date]]) -> str:
    """The day map with the days that open late (``session_hours``: 10:00 on the CSAT day). The
    dates are written into the statement as literals: a lookup table here would cost the planner
    its estimate of the day join, and a few dates in an array cost each post almost nothing."""
    if rule not in FORWARD_LABEL_RULES or not late_openings:
        return POST_DAY_SQL[rule]
    late = " ".join(
        f"WHEN {_KST}::date = ANY('{{{','.join(d.isoformat() for d in sorted(days))}}}'::date[]) "
        f"AND {_KST}::time < time '{opens.isoformat()}' THEN {_KST}::date"
        for opens, days in sorted(late_openings.items()))
    return f"CASE WHEN {_KST}::time < time '09:00' THEN {_KST}::date {late} ELSE {_KST}::date + 1 END"


def late_openings(cursor) -> dict[time, list[date]]:
    """Days whose session opens after 09:00, by opening time."""
    cursor.execute("SELECT opens, array_agg(trade_date ORDER BY trade_date) FROM session_hours "
                   "WHERE opens > time '09:00' GROUP BY opens")
    return dict(cursor.fetchall())

# Labels whose prices changed after they were written: a re-fetch, a rewritten history (a split)
# or a late session that falls between a label's base and target. Only prices written since the
# last run's start are looked at (the definition's labelled_at: earlier than any of its labels).
_STALE = """
DELETE FROM {table} l
USING (SELECT ticker, trade_date, fetched_at FROM prices
       WHERE fetched_at > (SELECT coalesce(labelled_at, '-infinity') FROM label_definitions
                           WHERE name = %(definition)s)
         AND ticker = ANY(%(tickers)s)) p
WHERE l.definition = %(definition)s
  AND p.ticker = l.ticker
  AND p.trade_date BETWEEN l.base_date AND l.target_date
  AND p.fetched_at > l.labelled_at
"""


def _rows(source: TextSource) -> str:
    """A source's texts as ``p`` with a ``posted_at`` (the day map reads that name)."""
    if source.time_column == "posted_at":
        return f"{source.table} p"
    return f"(SELECT ticker, {', '.join(source.keys)}, {source.time_column} AS posted_at FROM {source.table}) p"


# What is labelled, by the same rules: every text source (posts; news articles, issue 20), named by
# its table: (labels table, the rows as ``p`` with a ``posted_at``, their key columns).
SUBJECTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    source.table: (source.labels, _rows(source), source.keys) for source in TEXT_SOURCES.values()}
# The stamped table of each subject and its time column: an incremental run reads its candidates there.
STAMPED_SOURCES = {source.table: (source.table, source.time_column) for source in TEXT_SOURCES.values()}


def _insert_sql(definition: LabelDefinition, tickers: list[str] | None, late: dict[time, list[date]] | None = None,
                subject: str = "posts", candidates: str | None = None) -> str:
    """The insert of the missing labels of ``subject``, from every row or from the temp table ``candidates``;
    it answers (label, rows written) per class."""
    table, rows, keys = SUBJECTS[subject]
    rows, probe = (f"{candidates} p", changes.PROBE) if candidates else (rows, "")
    key_columns, row_keys = ", ".join(keys), ", ".join(f"p.{k}" for k in keys)
    same_item = " AND ".join(f"l.{k} = p.{k}" for k in keys)
    # same_day: the day must be a session itself, so the day map must not shift it forward.
    day_match = "AND d.day = e.trade_date" if definition.rule == "same_day" else ""
    ticker_filter = "AND p.ticker = ANY(%(tickers)s)" if tickers else ""
    # where the return starts: the post's session's open (tradable), or the close before it
    start, usable = (("e.open", "AND e.open > 0") if definition.rule == "next_open_close" else ("b.close", ""))
    return f"""
WITH written AS (
INSERT INTO {table} (definition, ticker, {key_columns}, session_date, base_date, target_date, ret, label)
SELECT %(definition)s, p.ticker, {row_keys}, e.trade_date, b.trade_date, t.trade_date,
       (t.close / {start} - 1)::double precision,
       CASE WHEN t.close > {start} AND t.close / {start} - 1 >= %(band)s THEN 'up'
            WHEN t.close < {start} AND 1 - t.close / {start} >= %(band)s THEN 'down'
            ELSE 'flat' END
FROM {rows}
JOIN label_days d ON d.ticker = p.ticker AND d.day = {post_day_sql(definition.rule, late or {})}
JOIN label_sessions e ON e.ticker = p.ticker AND e.session_no = d.session_no {day_match} {usable}
JOIN label_sessions b ON b.ticker = p.ticker AND b.session_no = d.session_no - 1 AND b.close > 0
JOIN label_sessions t ON t.ticker = p.ticker AND t.session_no = d.session_no + %(horizon)s - 1
WHERE NOT EXISTS (SELECT 1 FROM {table} l
                  WHERE l.definition = %(definition)s AND l.ticker = p.ticker AND {same_item} {probe})
  {ticker_filter}
ORDER BY p.ticker, {row_keys}  -- primary-key order: the index grows at its right edge (2x faster)
RETURNING label)
SELECT label, count(*) FROM written GROUP BY label
"""


@dataclass
class LabelReport:
    definition: str
    labelled: int  # new label rows written by this run
    relabelled: int  # labels dropped because a price they used changed, then written again
    unlabelled: int  # posts this run looked at that have no label yet (no later price); a full run looks at all
    counts: dict[str, int]  # label -> rows this run wrote
    news_labelled: int = 0  # the same for news articles (news_labels)
    news_relabelled: int = 0
    news_unlabelled: int = 0
    read: int | None = None  # posts an incremental run read (new ones, changed tickers' windows); None: all
    # every source's (labelled, relabelled, unlabelled), by its name: the board's and news' as above, comments
    per_source: dict[str, tuple[int, int, int]] = field(default_factory=dict)


def label_posts(engine: Engine, definition: LabelDefinition, tickers: list[str] | None = None,
                workers: int = 2) -> LabelReport:
    """Label every post that has no label under ``definition`` yet; idempotent and incremental.

    A run over every ticker after a first one reads only what changed (:mod:`finsent.data.changes`):
    posts and articles stamped since, and the windows of the tickers whose prices changed. A first
    run, or one over some ``tickers``, reads every post (of them) and leaves the watermark alone.
    Stocks are independent, so ``workers`` connections label disjoint groups of tickers at once
    (one Postgres backend per core); each group commits on its own, and a run that stops half-way
    leaves only correct labels behind for the next run to complete.
    """
    params = {"definition": definition.name, "band": definition.band, "horizon": definition.horizon,
              "tickers": tickers}
    with advisory_lock(engine, f"label:{definition.name}", wait=True):
        return _label_locked(engine, definition, tickers, workers, params)


def _label_locked(engine: Engine, definition: LabelDefinition, tickers: list[str] | None, workers: int,
                  params: dict) -> LabelReport:
    # first: a ticker whose first prices are stamped up to here is in the priced list read below
    upto = changes.current_stamp(engine)
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        # A posts table that was never analysed (a fresh database, a restore) looks empty to the
        # planner, which then joins it by cross products; one ANALYZE (sampled, cheap) fixes that.
        for table in SUBJECTS:
            cur.execute(f"SELECT reltuples < 0 FROM pg_class WHERE oid = '{table}'::regclass")
            if cur.fetchone()[0]:
                cur.execute(f"ANALYZE {table}")
        register(cur, definition)
        # The run's stamp: earlier than every group's transaction below, so a price written after
        # any group looked is newer than the stamp and found by the next run's stale check.
        cur.execute("SELECT now(), array_agg(DISTINCT ticker ORDER BY ticker) FROM prices"
                    + (" WHERE ticker = ANY(%(tickers)s)" if tickers else ""), params)
        started_at, priced = cur.fetchone()
        mark = changes.read_watermark(cur, "label", definition.name) if tickers is None else None
    params = {**params, "mark": mark, "upto": upto}
    groups = [group for group in ((priced or [])[i::max(1, workers)] for i in range(max(1, workers))) if group]
    with ThreadPoolExecutor(max_workers=max(1, len(groups)), thread_name_prefix="label") as pool:
        results = list(pool.map(lambda group: _label_group(engine, definition, group, params), groups))
    # per subject (posts first): [stale, labelled, unlabelled, read] summed over the groups
    summed = {subject: [sum(r[subject][i] for r in results) for i in range(4)] for subject in SUBJECTS}
    counts: dict[str, int] = {}
    for result in results:
        for label, n in result["counts"].items():
            counts[label] = counts.get(label, 0) + n
    # a backfill's labels are read by the next step at once: the planner must know them (issue 32)
    analyze_written(engine, {SUBJECTS[subject][0]: n[0] + n[1] for subject, n in summed.items()})
    if mark is None:
        for subject, unlabelled in _count_unlabelled(engine, params).items():
            summed[subject][2] = unlabelled
    _close_run(engine, definition, tickers, params, started_at)
    # per source: (new labels, relabelled after a price change, texts without one)
    per_source = {source_of_table(subject).name: (n[1], min(n[0], n[1]), n[2]) for subject, n in summed.items()}
    log.info("%s%s: new labels (relabelled after a price change), texts still without one: %s", definition.name,
             "" if mark is None else " (what changed since the last run)",
             "; ".join(f"{name} {new} ({again}), {left}" for name, (new, again, left) in per_source.items()))
    board, news = per_source[BOARD.name], per_source[NEWS.name]
    return LabelReport(definition.name, *board, counts, *news, read=None if mark is None else summed["posts"][3],
                       per_source=per_source)


def _label_group(engine: Engine, definition: LabelDefinition, group: list[str], params: dict) -> dict:
    """Per subject (stale, labelled, unlabelled, read), and the posts' labels written per class: one
    transaction, under one lock on prices. With a watermark (``params['mark']``) only the candidates
    of :mod:`finsent.data.changes` are read; without, every row (unlabelled is counted after)."""
    params = {**params, "tickers": group}
    incremental = params["mark"] is not None
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        # Waits for price writes in flight and holds new ones off until this commits: what the
        # labels are computed from is exactly what their labelled_at (now()) vouches for.
        cur.execute("LOCK TABLE prices IN SHARE MODE")
        # The joins hash a few tens of thousands of calendar rows against the posts; enough
        # memory keeps them hash joins instead of external sorts.
        cur.execute("SET LOCAL work_mem = '256MB'")
        # the group's calendar only (the view's window is per ticker, so the filter goes inside it)
        cur.execute(CALENDAR_SQL.replace("FROM sessions;", "FROM sessions WHERE ticker = ANY(%(tickers)s);"), params)
        late = late_openings(cur)
        if incremental:
            cur.execute(changes.WINDOWS_SQL, params)
        out: dict = {}
        for subject, (table, _, keys) in SUBJECTS.items():
            candidates, unlabelled, read = (f"label_candidates_{subject}" if incremental else None), 0, 0
            if candidates:
                source, time_column = STAMPED_SOURCES[subject]
                cur.execute(changes.candidates_sql(candidates, source, keys, time_column), params)
                cur.execute(f"SELECT count(*) FROM {candidates}")
                read = cur.fetchone()[0]
            cur.execute((changes.STALE_SQL if incremental else _STALE).format(table=table), params)
            stale = cur.rowcount
            cur.execute(_insert_sql(definition, group, late, subject, candidates), params)
            written = dict(cur.fetchall())
            if candidates:
                unlabelled = changes.count_unlabelled_candidates(cur, table, keys, candidates, params)
            out[subject] = (stale, sum(written.values()), unlabelled, read)
            out.setdefault("counts", written)  # the posts' (the first subject)
        return out


def _count_unlabelled(engine: Engine, params: dict) -> dict[str, int]:
    """Per subject: its texts (of the run's tickers) without a label: a full run's closing count."""
    found = {}
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        for subject, (table, _, keys) in SUBJECTS.items():
            same = " AND ".join(f"l.{k} = p.{k}" for k in ("ticker", *keys))
            cur.execute(f"SELECT count(*) FROM {subject} p WHERE NOT EXISTS (SELECT 1 FROM {table} l WHERE "
                        f"l.definition = %(definition)s AND {same})"
                        + (" AND p.ticker = ANY(%(tickers)s)" if params["tickers"] else ""), params)
            found[subject] = cur.fetchone()[0]
    return found


def _close_run(engine: Engine, definition: LabelDefinition, tickers: list[str] | None, params: dict,
               started_at) -> None:
    """Move the run's stamps (a run over every ticker only)."""
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        # Prices fetched after this run began relabel what they touch next time. A run over some
        # tickers only did not look at the others' stale labels: it leaves the stamps where they were.
        if tickers is None:
            cur.execute("UPDATE label_definitions SET labelled_at = %s WHERE name = %s",
                        (started_at, definition.name))
            changes.move_watermark(cur, "label", definition.name, params["upto"])
        cur.execute("SELECT EXISTS (SELECT 1 FROM prices WHERE NOT adjusted"
                    + (" AND ticker = ANY(%(tickers)s))" if tickers else ")"), params)
        if cur.fetchone()[0]:
            log.warning("some prices are not split-adjusted (legacy sise_day); a split inside their "
                        "range shows as a false move. Re-fetch with `finsent prices --source fchart --since`.")
