"""``finsent dataset build``: frozen, leakage-free dataset snapshots.

A snapshot takes labelled posts (up/down only) under one label definition (or news articles, or
both: ``--source``; each row keeps its source), drops posts flagged by the chosen quality rules
(news: by the news rules), optionally balances the classes, and splits:

- ``time`` (default): train / valid / test by session date, with ``embargo`` sessions (at least
  one) skipped between parts, plus h - 1 for a horizon-h label (``finsent.data.embargo``), so no
  part's labels reach a later part's prices;
- ``random``: the 2023 study's shuffled split (its 99/1), kept only to reproduce it.

Either way one story never lands in two parts: a row whose normalised title a row of the same
stock in an earlier part carries within ``SAME_STORY_WINDOW`` (24 hours) of it is dropped (a wire
story re-carried by another office minutes later, a post pasted again); the same title weeks apart
(a template headline such as "[특징주] X, 외국인 순매수", a daily bot post) is a new event and stays.
The manifest counts what the rule dropped per part. Balancing
(``--balance``) comes after the split and keeps as many up as down inside each part on its own, so
the split boundaries are those of the unbalanced selection; ``--per-class`` caps each class of the
selection before the split (the study's 15k/15k draw). The
snapshot is stored in ``datasets``/``dataset_rows`` and exported as Parquet under
``FINSENT_DATA_DIR/datasets/NAME/`` with a sha256 content hash: the same spec on the same data
gives the same hash.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from psycopg2.extras import execute_values
from sqlalchemy.engine import Engine

from finsent.data.embargo import sessions_skipped
from finsent.data.labels import LabelDefinition, count_stale_labels, load_definition
from finsent.data.post_comments import comments_before_sql
from finsent.data.quality import TITLE_NORM_SQL
from finsent.data.snapshots import SPLITS, snapshot_digest, snapshot_row
from finsent.data.sources import BOARD, COMMENTS, NEWS, selected
from finsent.data.spec import DatasetSpec
from finsent.data.text import TextSpec
from finsent.db import advisory_lock, raw_transaction
from finsent.errors import ConfigError
from finsent.names import check_name, inside, private_dir, private_files
from finsent.tickers import member_on_sql

log = logging.getLogger(__name__)

_EXPORT_CHUNK = 100_000
# A repeated title is the same story (and leaves the later part) only within this time of its copy
# in an earlier part, for the same stock: re-carried wire stories land minutes apart, a story's
# copies within a day; a template headline or a daily post weeks apart is a new event.
SAME_STORY_WINDOW = timedelta(hours=24)
_PARQUET_SCHEMA = pa.schema([
    ("ticker", pa.string()), ("post_id", pa.int64()), ("posted_at", pa.timestamp("us", tz="Asia/Seoul")),
    ("session_date", pa.date32()), ("title", pa.string()), ("title_norm", pa.string()),
    ("label", pa.string()), ("ret", pa.float64()), ("previous_session_up", pa.float64()), ("source", pa.string()),
    ("body", pa.string()),
])


@dataclass
class DatasetSummary:
    name: str
    content_hash: str
    rows: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> label -> rows
    dropped_same_story: dict[str, int] = field(default_factory=dict)  # part -> rows dropped as an earlier part's story
    path: Path | None = None


# A news row's id in a snapshot: its surrogate, negative, so it never meets a post's (sql/0032: the
# id made of office and article overflowed on long article ids and could map two articles to one).
NEWS_ITEM_ID_SQL = "-p.item_id"
# A comment's: its own surrogate, drawn from the same sequence (sql/0051), so it meets neither.
COMMENT_ITEM_ID_SQL = "-p.item_id"
# What each source contributes: its labels, its rows as ``p`` (with a ``posted_at``) and their
# flags; (the join of l to p, the flags' match, the row id, office_id, article_id)
_SOURCE_SQL = {
    BOARD.name: ("labels l JOIN posts p ON p.ticker = l.ticker AND p.post_id = l.post_id",
              "post_flags f WHERE f.ticker = l.ticker AND f.post_id = l.post_id AND f.rule = ANY(%(rules)s)",
              "p.post_id", "NULL::text", "NULL::text"),
    NEWS.name: ("news_labels l JOIN (SELECT ticker, office_id, article_id, item_id, published_at AS posted_at, title, "
             "summary AS body FROM news) p "
             "ON p.ticker = l.ticker AND p.office_id = l.office_id AND p.article_id = l.article_id",
             "news_flags f WHERE f.ticker = l.ticker AND f.office_id = l.office_id AND f.article_id = l.article_id",
             NEWS_ITEM_ID_SQL, "p.office_id", "p.article_id"),
    # a comment's text is its title (it has no body); its id -item_id, like an article's
    COMMENTS.name: ("comment_labels l JOIN (SELECT ticker, post_id, comment_no, item_id, written_at AS posted_at, "
                    "text AS title, NULL::text AS body FROM comments) p "
                    "ON p.ticker = l.ticker AND p.post_id = l.post_id AND p.comment_no = l.comment_no",
                    "comment_flags f WHERE f.ticker = l.ticker AND f.post_id = l.post_id "
                    "AND f.comment_no = l.comment_no",
                    COMMENT_ITEM_ID_SQL, "NULL::text", "NULL::text"),
}


# The sessions the selection joins three times per row, made once and indexed: the ``sessions`` view
# computes a window over every price, and a planner that misjudges the labels (a backfill's, written
# a minute before) runs it again for every row of a nested loop: hours instead of seconds (issue 32).
SESSIONS_TABLE = "ds_sessions"
SESSIONS_SQL = f"""
CREATE TEMP TABLE {SESSIONS_TABLE} ON COMMIT DROP AS SELECT ticker, trade_date, close, session_no FROM sessions;
CREATE INDEX ON {SESSIONS_TABLE} (ticker, trade_date);
CREATE INDEX ON {SESSIONS_TABLE} (ticker, session_no);
ANALYZE {SESSIONS_TABLE};
"""


def _source_select(spec: DatasetSpec, source: str) -> str:
    rows, flags, item_id, office_id, article_id = _SOURCE_SQL[source]
    # point in time: a row counts only if its ticker was in the universe on its session
    conditions = ["l.definition = %(definition)s", "l.label IN ('up', 'down')",
                  member_on_sql("l.ticker", "l.session_date")]
    if spec.start:
        conditions.append("l.session_date >= %(start)s")
    if spec.end:
        conditions.append("l.session_date <= %(end)s")
    if spec.tickers:
        conditions.append("l.ticker = ANY(%(tickers)s)")
    if spec.rules:  # news: the news rules (news_flags) apply unless --rules none
        conditions.append(f"NOT EXISTS (SELECT 1 FROM {flags})")
    return f"""
SELECT l.ticker, {item_id} AS post_id, l.label, l.session_date, {TITLE_NORM_SQL} AS title_norm,
       -- a seeded, order-free pseudo-random rank: the same spec always draws the same rows
       md5(%(seed)s || ':' || l.ticker || ':' || {item_id}) AS draw,
       NULL::text AS split,
       -- frozen with the snapshot: what training and evaluation read, whatever changes later (the body
       -- as stored here; cleaned and cut to the budget before the export: _freeze_bodies)
       p.title, {"p.body" if spec.text != "title" else "NULL::text"} AS body, l.ret::float8 AS ret,
       -- yesterday's direction: the move of the last session that had closed when the text was written
       COALESCE(CASE WHEN last.close > before.close THEN 1.0 WHEN last.close < before.close THEN 0.0
                     ELSE 0.5 END, 0.5)::float8 AS previous_session_up,
       '{source}'::text AS source, {office_id} AS office_id, {article_id} AS article_id, p.posted_at,
       -- a board post's comments written before its session opened, when the snapshot reads them
       {_comments_sql(spec, source)} AS comments
FROM {rows}
LEFT JOIN {SESSIONS_TABLE} b ON b.ticker = l.ticker AND b.trade_date = l.base_date
LEFT JOIN {SESSIONS_TABLE} last ON last.ticker = l.ticker AND last.session_no = b.session_no
     - CASE WHEN p.posted_at >= (l.base_date + time '15:30') AT TIME ZONE 'Asia/Seoul' THEN 0 ELSE 1 END
LEFT JOIN {SESSIONS_TABLE} before ON before.ticker = l.ticker AND before.session_no = last.session_no - 1
WHERE {' AND '.join(conditions)}
"""


def _comments_sql(spec: DatasetSpec, source: str) -> str:
    if source != BOARD.name or not TextSpec(spec.text, spec.text_tokens).reads_comments:
        return "NULL::text"
    return comments_before_sql("l.ticker", "l.post_id", "l.session_date")


def selection_sql(spec: DatasetSpec) -> str:
    """The rows a snapshot of ``spec`` starts from (before sampling, splits and balancing); reads the
    temp table ``SESSIONS_SQL`` makes."""
    return "UNION ALL".join(_source_select(spec, source.name) for source in selected(spec.source))


def _time_split_dates(dates: list[date], spec: DatasetSpec, horizon: int) -> dict[str, tuple[date, date] | None]:
    """Cut the sorted session dates into train | gap | valid | gap | test."""
    gap = sessions_skipped(spec.embargo, horizon)
    n = len(dates)
    n_test = round(n * spec.test_frac)
    n_valid = round(n * spec.valid_frac)
    n_train = n - n_test - n_valid - gap * ((n_test > 0) + (n_valid > 0))
    if n_train < 1 or (spec.test_frac and n_test < 1) or (spec.valid_frac and n_valid < 1):
        raise ConfigError(
            f"a time split of {n} session dates with valid {spec.valid_frac}, test {spec.test_frac} and "
            f"{gap} session(s) skipped between parts (embargo {spec.embargo}, horizon {horizon}) leaves a part empty; "
            "use a wider date range or other fractions")
    ranges: dict[str, tuple[date, date] | None] = {"train": (dates[0], dates[n_train - 1])}
    cursor = n_train
    for part, size in (("valid", n_valid), ("test", n_test)):
        if size:
            cursor += gap
            ranges[part] = (dates[cursor], dates[cursor + size - 1])
            cursor += size
        else:
            ranges[part] = None
    return ranges


def build_dataset(engine: Engine, name: str, spec: DatasetSpec, data_dir: Path, *,
                  replace: bool = False) -> DatasetSummary:
    """Build snapshot ``name``. The name is checked first (it becomes a folder); builds of one name
    run one at a time (an advisory lock: the second waits), each in its own staging folder."""
    check_name(name, "dataset name")
    spec.validate()
    with advisory_lock(engine, f"dataset:{name}", wait=True):
        summary = _build_dataset_locked(engine, name, spec, data_dir, replace=replace)
    if summary.path is not None:
        private_files(summary.path)
    return summary


def _staging_dir(datasets_dir: Path, name: str) -> Path:
    """A folder of this build's own (two builds never share one), inside the datasets folder."""
    private_dir(datasets_dir)
    return inside(datasets_dir, datasets_dir / f".{name}.{uuid.uuid4().hex[:12]}.partial")


def _build_dataset_locked(engine: Engine, name: str, spec: DatasetSpec, data_dir: Path, *,
                          replace: bool = False) -> DatasetSummary:
    target = inside(data_dir / "datasets", data_dir / "datasets" / name)
    staging = _staging_dir(data_dir / "datasets", name)
    try:
        with raw_transaction(engine) as raw, raw.cursor() as cur:
            definition = load_definition(cur, spec.definition)
            params = _check_selection(cur, name, spec, definition, replace)
            cur.execute(SESSIONS_SQL)
            cur.execute("CREATE TEMP TABLE ds_rows ON COMMIT DROP AS " + selection_sql(spec), params)
            if cur.rowcount == 0:
                raise ConfigError(f"the selection is empty: no up/down labels of {spec.source} under "
                                   f"{spec.definition!r} in that range, tickers and rules; nothing written")
            cur.execute("ANALYZE ds_rows")  # the steps below join it with itself
            _sample(cur, spec)
            _assign_splits(cur, spec, definition.horizon)
            dropped = _drop_same_story_copies(cur)
            if spec.balance:
                _balance_parts(cur)
            _freeze_bodies(raw, cur, TextSpec(spec.text, spec.text_tokens))
            counts = _counts(cur)
            for part, frac in (("train", 1.0), ("valid", spec.valid_frac), ("test", spec.test_frac)):
                if frac > 0 and not sum(counts.get(part, {}).values()):
                    raise ConfigError(f"the {spec.split} split leaves {part} empty; nothing written")
            if staging.exists():
                shutil.rmtree(staging)
            content_hash, rows = _export(raw, cur, spec, staging)
            cur.execute("INSERT INTO datasets (name, spec, content_hash, rows) VALUES (%s, %s, %s, %s)",
                        (name, json.dumps(spec.to_json()), content_hash, rows))
            cur.execute("INSERT INTO dataset_rows (dataset, ticker, post_id, split, label, session_date, title, body, "
                        "ret, previous_session_up, source, office_id, article_id) SELECT %s, ticker, post_id, split, "
                        "label, session_date, title, body, ret, previous_session_up, source, office_id, article_id "
                        "FROM ds_rows", (name,))
            manifest = {"name": name, "spec": spec.to_json(), "content_hash": content_hash, "rows": rows,
                        "counts": counts, "dropped_same_story": {
                            "rule": "a row whose normalised title a row of the same stock in an earlier part "
                                    f"carries less than {SAME_STORY_WINDOW.total_seconds() / 3600:g} hours away",
                            "window_hours": SAME_STORY_WINDOW.total_seconds() / 3600, "rows": dropped}}
            (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    log.info("dataset %s: %d rows, hash %s, written to %s", name, rows, content_hash[:16], target)
    return DatasetSummary(name, content_hash, rows, counts, dropped, target)


def _check_selection(cur, name: str, spec: DatasetSpec, definition: LabelDefinition, replace: bool) -> dict:
    """Refuse an existing name (without ``replace``), unknown tickers, stale labels and posts never
    quality-checked; delete the old snapshot's rows when replacing. The query parameters of the selection."""
    cur.execute("SELECT 1 FROM datasets WHERE name = %s", (name,))
    if cur.fetchone() and not replace:
        raise ConfigError(f"dataset {name!r} exists; snapshots are frozen (pass --replace to rebuild it)")
    cur.execute("DELETE FROM datasets WHERE name = %s", (name,))
    if spec.tickers:
        cur.execute("SELECT array_agg(c) FROM unnest(%s::text[]) c WHERE c NOT IN (SELECT code FROM tickers)",
                    (list(spec.tickers),))
        unknown = cur.fetchone()[0]
        if unknown:
            raise ConfigError(f"unknown ticker code(s): {', '.join(unknown)}")
    sources = selected(spec.source)
    stale = sum(count_stale_labels(cur, spec.definition, list(spec.tickers) or None, source.labels)
                for source in sources)
    if stale:
        raise ConfigError(f"{stale} labels under {spec.definition!r} use prices that changed after they "
                           "were written (a re-fetch or a rewritten history, e.g. a split); run "
                           f"`{definition.command()}` first; nothing written")
    params = {"definition": spec.definition, "start": spec.start, "end": spec.end,
              "tickers": list(spec.tickers), "rules": list(spec.rules), "seed": str(spec.seed)}
    for source in sources if spec.rules else ():
        if source.checked is None:  # its check writes flags only: nothing says a text was not checked
            continue
        same = " AND ".join(f"q.{k} = l.{k}" for k in ("ticker", *source.keys))
        cur.execute(f"SELECT count(*) FROM {source.labels} l WHERE l.definition = %(definition)s AND NOT EXISTS "
                    f"(SELECT 1 FROM {source.checked} q WHERE {same})", params)
        unchecked = cur.fetchone()[0]
        if unchecked:
            raise ConfigError(f"{unchecked} labelled {source.items} have not been quality-checked; run "
                               "`finsent quality check` first (or build with --rules none)")
    return params


def _assign_splits(cur, spec: DatasetSpec, horizon: int) -> None:
    """train / valid / test per row of ds_rows: by session date with an embargo (``time``), or by draw."""
    if spec.split == "time":
        cur.execute("SELECT DISTINCT session_date FROM ds_rows ORDER BY 1")
        ranges = _time_split_dates([r[0] for r in cur.fetchall()], spec, horizon)
        for part, span in ranges.items():
            if span:
                cur.execute("UPDATE ds_rows SET split = %s WHERE session_date BETWEEN %s AND %s",
                            (part, *span))
        cur.execute("DELETE FROM ds_rows WHERE split IS NULL")  # the embargo sessions
    else:
        cur.execute("SELECT count(*) FROM ds_rows")
        total = cur.fetchone()[0]
        n_test, n_valid = round(total * spec.test_frac), round(total * spec.valid_frac)
        cur.execute(
            "UPDATE ds_rows d SET split = CASE WHEN r.k <= %s THEN 'test' WHEN r.k <= %s THEN 'valid' "
            "ELSE 'train' END FROM (SELECT ticker, post_id, row_number() OVER (ORDER BY md5(draw)) AS k "
            "FROM ds_rows) r WHERE r.ticker = d.ticker AND r.post_id = d.post_id", (n_test, n_test + n_valid))


def _sample(cur, spec: DatasetSpec) -> None:
    """--per-class: at most N rows of each class in the selection (the study's 15k/15k draw), seeded."""
    if spec.per_class is None:
        return
    cur.execute("DELETE FROM ds_rows d USING (SELECT ticker, post_id, row_number() OVER "
                "(PARTITION BY label ORDER BY draw) AS k FROM ds_rows) r "
                "WHERE r.ticker = d.ticker AND r.post_id = d.post_id AND r.k > %s", (spec.per_class,))


def _balance_parts(cur) -> None:
    """--balance: as many up as down inside each part, each part on its own (seeded draw). After
    the split, so balancing moves no boundary and every part, the test part too, is 50/50."""
    cur.execute("SELECT split, count(*) FILTER (WHERE label = 'up'), count(*) FILTER (WHERE label = 'down') "
                "FROM ds_rows GROUP BY split")
    for part, ups, downs in cur.fetchall():
        if min(ups, downs) == 0:
            raise ConfigError(f"--balance found only one class in the {part} part; nothing written")
    cur.execute("DELETE FROM ds_rows d USING (SELECT ticker, post_id, row_number() OVER "
                "(PARTITION BY split, label ORDER BY draw) AS k, "
                "least(count(*) FILTER (WHERE label = 'up') OVER (PARTITION BY split), "
                "count(*) FILTER (WHERE label = 'down') OVER (PARTITION BY split)) AS keep FROM ds_rows) r "
                "WHERE r.ticker = d.ticker AND r.post_id = d.post_id AND r.k > r.keep")


def _drop_same_story_copies(cur) -> dict[str, int]:
    """Drop every row whose normalised title a row of the same stock in an earlier part (train, then
    valid, then test) carries less than ``SAME_STORY_WINDOW`` away: one story, one part. Copies chain (a copy
    in valid drops a test copy within the window of it, even when that valid copy goes too). Only
    titles found in two parts are compared, with an index. Rows dropped, per part."""
    cur.execute("""
        CREATE TEMP TABLE ds_repeated ON COMMIT DROP AS
        SELECT r.ticker, r.post_id, r.title_norm, r.posted_at,
               array_position(ARRAY['train', 'valid', 'test'], r.split) AS part
        FROM ds_rows r JOIN (SELECT ticker, title_norm FROM ds_rows GROUP BY 1, 2
                             HAVING count(DISTINCT split) > 1) m USING (ticker, title_norm)""")
    cur.execute("CREATE INDEX ON ds_repeated (ticker, title_norm, posted_at)")
    cur.execute("""
        DELETE FROM ds_rows d USING (
            SELECT DISTINCT l.ticker, l.post_id FROM ds_repeated l JOIN ds_repeated e
              ON e.ticker = l.ticker AND e.title_norm = l.title_norm AND e.part < l.part
             AND e.posted_at > l.posted_at - %(window)s AND e.posted_at < l.posted_at + %(window)s) x
        WHERE d.ticker = x.ticker AND d.post_id = x.post_id
        RETURNING d.split""", {"window": SAME_STORY_WINDOW})
    dropped: dict[str, int] = {}
    for (part,) in cur.fetchall():
        dropped[part] = dropped.get(part, 0) + 1
    if dropped:
        log.info("dropped %s: the same stock's title within %s of a copy in an earlier part (one story, one part)",
                 ", ".join(f"{n} {part} row(s)" for part, n in sorted(dropped.items())), SAME_STORY_WINDOW)
    return dropped


def _freeze_bodies(raw, cur, text: TextSpec) -> None:
    """Each row's body as its models read it: cleaned (``finsent.data.text.clean_body``), its comments
    after it when the snapshot reads them, cut to what the title leaves of the budget; NULL when
    nothing is left (or the snapshot reads titles)."""
    if not text.reads_body:
        return
    cur.execute("CREATE TEMP TABLE ds_bodies (ticker text, post_id bigint, body text) ON COMMIT DROP")
    with raw.cursor(name="ds_raw_bodies") as stream:  # server-side: never all bodies in memory
        stream.itersize = _EXPORT_CHUNK
        stream.execute("SELECT ticker, post_id, title, body, comments FROM ds_rows "
                       "WHERE body IS NOT NULL OR comments IS NOT NULL")
        while batch := stream.fetchmany(_EXPORT_CHUNK):
            rows = [(ticker, post_id, text.body(title, body, comments) or None)
                    for ticker, post_id, title, body, comments in batch]
            execute_values(cur, "INSERT INTO ds_bodies (ticker, post_id, body) VALUES %s", rows, page_size=1000)
    cur.execute("UPDATE ds_rows d SET body = b.body FROM ds_bodies b "
                "WHERE (d.ticker, d.post_id) = (b.ticker, b.post_id)")


def _counts(cur) -> dict[str, dict[str, int]]:
    cur.execute("SELECT split, label, count(*) FROM ds_rows GROUP BY split, label")
    counts: dict[str, dict[str, int]] = {}
    for split, label, n in cur.fetchall():
        counts.setdefault(split, {})[label] = n
    return counts


def _export(raw, cur, spec: DatasetSpec, directory: Path) -> tuple[str, int]:
    """Write one Parquet file per part, streaming; hash the frozen rows in a fixed order."""
    directory.mkdir(parents=True)
    digest = snapshot_digest(spec.to_json())
    rows = 0
    for part in SPLITS:
        writer = pq.ParquetWriter(directory / f"{part}.parquet", _PARQUET_SCHEMA)
        with raw.cursor(name=f"export_{part}") as stream:  # server-side: never all rows in memory
            stream.itersize = _EXPORT_CHUNK
            stream.execute(
                "SELECT d.ticker, d.post_id, d.posted_at, d.session_date, d.title, d.title_norm, d.label, d.ret, "
                "d.previous_session_up, d.source, d.body FROM ds_rows d WHERE d.split = %s "
                "ORDER BY d.ticker, d.post_id",
                (part,))
            while batch := stream.fetchmany(_EXPORT_CHUNK):
                for ticker, post_id, _, session_date, title, _, label, ret, previous, _, body in batch:
                    digest.update(snapshot_row(part, ticker, post_id, label, session_date, title, ret, previous, body))
                columns = list(zip(*batch))
                writer.write_table(pa.Table.from_arrays(
                    [pa.array(c, type=f.type) for c, f in zip(columns, _PARQUET_SCHEMA)], schema=_PARQUET_SCHEMA))
                rows += len(batch)
        writer.close()
    return digest.hexdigest(), rows
