"""``finsent reconcile``: labels, quality flags, scores and the daily index made to agree with the
posts, news and prices as they are now, after hand edits (issue 32 #12).

The day's steps read what changed through stamps (sql/0020); a hand edit stamped nothing: a deleted
post kept its labels, flags, scores and index votes, an edited title its old score. Reconcile:

1. finds (one transaction, rolled back by ``--dry-run``) labels, quality rows, flags and scores of
   posts and articles that are gone, and drops them; the texts edited by hand (``text_edits``, kept
   by triggers since sql/0033, and older title edits, found by a quality row's normalised title that
   no longer matches) lose their scores (every version), quality rows and flags; labels whose session
   no longer matches their text's time (an edited time, under each definition's own rule) are
   dropped; the texts to redo are restamped, so the steps read them again;
2. checks quality (the edited texts), labels (every definition; what changed, prices included);
3. rebuilds the daily index of every source and version that has one (only rows that differ are
   written), then scores with each source's champion (the edited texts) when MLflow answers.

Snapshots and backtests are frozen and kept as they are (the summary says how many of their rows
refer to posts that are gone). Progress is logged step by step.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from finsent.data.labels import CALENDAR_SQL, SUBJECTS, late_openings, post_day_sql, registered_definitions
from finsent.data.quality import TITLE_NORM_SQL
from finsent.data.sources import BOARD, TEXT_SOURCES
from finsent.db import advisory_lock, raw_transaction

log = logging.getLogger(__name__)

# The text sources by their subject (the labels' SUBJECTS: their table).
_ITEMS = {source.table: source for source in TEXT_SOURCES.values()}


@dataclass
class ReconcileReport:
    dry_run: bool
    orphans: dict[str, int] = field(default_factory=dict)  # table -> rows of texts that are gone
    edited: dict[str, int] = field(default_factory=dict)  # subject -> texts whose title changed
    moved: dict[str, int] = field(default_factory=dict)  # labels table -> labels whose session moved
    frozen: dict[str, int] = field(default_factory=dict)  # snapshot / backtest rows of texts now gone (kept)
    indexes: list[str] = field(default_factory=list)  # "source vN" rebuilt
    index_rewritten: int = 0
    labelled: int = 0
    rescored: dict[str, int] = field(default_factory=dict)  # source -> texts scored again
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        would = "would " if self.dry_run else ""
        out = [f"{would}drop, of texts that are gone: " + (", ".join(f"{t} {n}" for t, n in self.orphans.items() if n)
                                                            or "nothing"),
               f"{would}redo, of texts edited by hand: " + (", ".join(f"{s} {n}" for s, n in self.edited.items() if n)
                                                             or "nothing") + " (scores, quality flags)",
               f"{would}relabel, whose session moved: " + (", ".join(f"{t} {n}" for t, n in self.moved.items() if n)
                                                            or "nothing"),
               f"{would}rebuild the daily index of: " + (", ".join(self.indexes) or "nothing")]
        if self.frozen:
            kept = ", ".join(f"{t} {n}" for t, n in self.frozen.items())
            out.append(f"kept (frozen), rows of texts now gone: {kept}")
        if not self.dry_run:
            out.append(f"done: {self.labelled} labels written, {self.index_rewritten} index rows rewritten, "
                       "scored again: " + (", ".join(f"{s} {n}" for s, n in self.rescored.items()) or "nothing"))
        return out + self.notes


def _same(keys: tuple[str, ...], a: str, b: str) -> str:
    return " AND ".join(f"{a}.{k} = {b}.{k}" for k in ("ticker", *keys))


def _drop_orphans(cur, report: ReconcileReport) -> None:
    for source in _ITEMS.values():
        table, keys = source.table, source.keys
        for dependant in source.keyed:
            cur.execute(f"DELETE FROM {dependant} d WHERE NOT EXISTS (SELECT 1 FROM {table} p WHERE "
                        f"{_same(keys, 'p', 'd')})")
            report.orphans[dependant] = cur.rowcount
    # frozen rows keep a board post's id (a news row's is a surrogate: sql/0032)
    for frozen in ("dataset_rows", "backtest_scores"):
        cur.execute(f"SELECT count(*) FROM {frozen} d WHERE d.source = %s AND NOT EXISTS "
                    f"(SELECT 1 FROM {BOARD.table} p WHERE p.ticker = d.ticker AND p.post_id = d.post_id)",
                    (BOARD.name,))
        if n := cur.fetchone()[0]:
            report.frozen[frozen] = n


_EDITED = """
CREATE TEMP TABLE reconcile_edited_{subject} ON COMMIT DROP AS
SELECT DISTINCT ticker, {keys} FROM text_edits WHERE source = %(source)s AND title_changed
"""
# ... and the texts whose stored normalised title no longer matches (a source that keeps one)
_RETITLED = "UNION SELECT q.ticker, {q_keys} FROM {quality} q JOIN {table} p ON {same} WHERE q.title_norm <> {norm}"


def _redo_edited_titles(cur, report: ReconcileReport) -> None:
    """Texts whose title changed lose what the old title decided (scores, quality), and are restamped."""
    for subject, source in _ITEMS.items():
        table, keys, dependants, edited = source.table, source.keys, source.keyed, f"reconcile_edited_{subject}"
        sql = _EDITED.format(subject=subject, keys=", ".join(keys))
        # a source whose quality is recomputed whole by every check (news, comments) keeps no normalised title
        if source.checked:
            sql += _RETITLED.format(q_keys=", ".join(f"q.{k}" for k in keys), quality=source.checked, table=table,
                                    same=_same(keys, "q", "p"), norm=TITLE_NORM_SQL)
        cur.execute(sql, {"source": source.name})
        report.edited[subject] = cur.rowcount
        for dependant in (d for d in dependants if d != source.labels):  # every table keyed by the text but its labels
            cur.execute(f"DELETE FROM {dependant} d USING {edited} e WHERE {_same(keys, 'd', 'e')}")
        cur.execute(f"UPDATE {table} p SET changed_seq = nextval('change_seq') FROM {edited} e "
                    f"WHERE {_same(keys, 'p', 'e')}")


_MOVED = """
DELETE FROM {table} l USING (
    SELECT l2.ticker, {l2_keys} FROM {table} l2 JOIN {rows} ON {same}
    LEFT JOIN label_days d ON d.ticker = p.ticker AND d.day = {post_day}
    LEFT JOIN label_sessions e ON e.ticker = p.ticker AND e.session_no = d.session_no {day_match}
    WHERE l2.definition = %(definition)s AND l2.session_date IS DISTINCT FROM e.trade_date) m
WHERE l.definition = %(definition)s AND {same_m}
RETURNING l.ticker, {l_keys}
"""


def _drop_moved_labels(cur, report: ReconcileReport) -> None:
    """Labels whose session is no longer the one their text's time maps to (under each definition's
    rule and today's calendar) are dropped and their texts restamped: the label run writes them again."""
    cur.execute(CALENDAR_SQL)
    late = late_openings(cur)
    for definition in registered_definitions(cur):
        for subject, (table, rows, keys) in SUBJECTS.items():
            cur.execute(_MOVED.format(
                table=table, rows=rows, same=_same(keys, "l2", "p"), l2_keys=", ".join(f"l2.{k}" for k in keys),
                post_day=post_day_sql(definition.rule, late),
                day_match="AND d.day = e.trade_date" if definition.rule == "same_day" else "",
                same_m=_same(keys, "l", "m"), l_keys=", ".join(f"l.{k}" for k in keys)),
                {"definition": definition.name})
            moved = cur.fetchall()
            report.moved[table] = report.moved.get(table, 0) + len(moved)
            if moved:
                texts, key_list = _ITEMS[subject].table, ("ticker", *keys)
                cur.execute(f"UPDATE {texts} SET changed_seq = nextval('change_seq') WHERE ({', '.join(key_list)}) "
                            f"IN (SELECT * FROM unnest({', '.join(['%s'] * len(key_list))}))",
                            [list(column) for column in zip(*moved)])


def _plan(engine: Engine, report: ReconcileReport) -> list[tuple[str, int]]:
    """Step 1 (see the module doc); the (source, version) indexes to rebuild. Rolled back on a dry run."""
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        cur.execute("SET LOCAL work_mem = '256MB'")
        for step, (what, run) in enumerate((("texts that are gone", _drop_orphans),
                                            ("texts edited by hand", _redo_edited_titles),
                                            ("labels whose session moved", _drop_moved_labels)), start=1):
            started = time.monotonic()
            run(cur, report)
            log.info("reconcile 1.%d/3: %s (%.1f s)", step, what, time.monotonic() - started)
        cur.execute("DELETE FROM text_edits")
        cur.execute("SELECT source, model_version FROM daily_sentiment_state ORDER BY 1, 2")
        indexes = [(source, int(version)) for source, version in cur.fetchall()]
        report.indexes = [f"{source} v{version}" for source, version in indexes]
        if report.dry_run:
            raw.rollback()
    return indexes


def reconcile(settings, engine: Engine, *, dry_run: bool = False, score: bool = True) -> ReconcileReport:
    """Make labels, flags, scores and the daily index agree with the data (see the module doc)."""
    report = ReconcileReport(dry_run)
    with ExitStack() as locks:  # the steps it redoes wait (and are waited for) as they do for each other
        locks.enter_context(advisory_lock(engine, "reconcile"))
        for name in ("score", "score-news", "score-comments"):  # each source's scoring lock
            locks.enter_context(advisory_lock(engine, name, wait=True))
        indexes = _plan(engine, report)
    if dry_run:
        return report
    _redo(settings, engine, report, indexes, score)
    return report


def _redo(settings, engine: Engine, report: ReconcileReport, indexes: list[tuple[str, int]], score: bool) -> None:
    """Steps 2 and 3 (see the module doc)."""
    from finsent.data.labels import label_posts
    from finsent.data.quality import check_quality

    started = time.monotonic()
    check_quality(engine)
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        definitions = registered_definitions(cur)
    report.labelled = sum(label_posts(engine, d).labelled for d in definitions)
    log.info("reconcile 2/3: quality checked, %d labels written (%.1f s)", report.labelled, time.monotonic() - started)
    started = time.monotonic()
    report.index_rewritten = rebuild_indexes(engine, indexes)
    log.info("reconcile 3/3: %d daily index rows rewritten (%.1f s)", report.index_rewritten,
             time.monotonic() - started)
    if score:
        _score_again(settings, engine, report)


def rebuild_indexes(engine: Engine, indexes: list[tuple[str, int]]) -> int:
    """Rebuild each (source, version) index from its scores as they are (rows that differ only)."""
    from finsent.ml.comments_score import COMMENTS_INDEX
    from finsent.ml.daily_index import BOARD_INDEX, refresh_daily_index
    from finsent.ml.news_index import NEWS_INDEX

    sources, rewritten = {index.name: index for index in (BOARD_INDEX, NEWS_INDEX, COMMENTS_INDEX)}, 0
    for source, version in indexes:
        with raw_transaction(engine) as raw, raw.cursor() as cur:
            cur.execute("DELETE FROM daily_sentiment_state WHERE source = %s AND model_version = %s", (source, version))
            rewritten += refresh_daily_index(cur, version, sources[source]).rewritten
    return rewritten


def _score_again(settings, engine: Engine, report: ReconcileReport) -> None:
    """The edited texts scored by each source's champion (and its index brought up to date)."""
    from finsent.errors import FinsentError
    from finsent.ml.news_score import score_sources

    try:
        for scored in score_sources(settings, engine):
            report.rescored[scored.source] = scored.scored
    except FinsentError as exc:  # no champion, or MLflow does not answer: the rest is done
        report.notes.append(f"not scored again: {exc} (run `finsent score` when it can)")
        log.warning("reconcile: edited texts not scored again: %s", exc)
