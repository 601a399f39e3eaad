"""``finsent export``: finsent's published tables as files (CSV, Parquet, JSON) and as rows for the
plugin's JSON API, from one reading of each table.

What each table is (``TABLES``): ``daily-sentiment`` (``daily_sentiment``: the daily index of each
source per model version), ``scores`` (``post_scores``, ``news_scores`` and ``comment_scores``, one row
per scored post, headline or comment, with when it was written), ``backtest`` (``backtest_daily``: each walk-forward
backtest's out-of-sample index with the session's return). The rows are the table's, filtered by
``ExportFilter`` (tickers, a date range, a source, a model version, a backtest) and in a fixed
order, so the same filter gives the same file. Times are ISO 8601 in KST (+09:00).

``study`` and ``study-books`` are each factor study's grid (``study_cells``) and books
(``study_books``), with the backtest each study reads; they take ``--study`` and ``--backtest``.

A file is written to a temporary file beside ``--out`` and renamed over it only once complete:
an error leaves nothing half-written (an older file of that name stays as it was).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.engine import Engine

from finsent.data.export_spec import FORMATS, TABLE_HELP, ExportFilter
from finsent.db import raw_connection
from finsent.errors import ConfigError

_CHUNK = 50_000
_KST = "Asia/Seoul"


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    help: str


@dataclass(frozen=True)
class Table:
    """One exportable table: its columns, what its rows are, and how to select them."""

    name: str
    help: str
    columns: tuple[Column, ...]
    select: str  # SQL with the filter's {where} placeholders, ordered
    date_column: str  # what --from/--to filter on


_VERSION = Column("model_version", pa.int32(), "the registered model version that wrote the row")
_SOURCE = Column("source", pa.string(), "board (discussion-board posts) or news (headlines)")
_TICKER = Column("ticker", pa.string(), "six-character KRX code")
_SESSION = Column("session_date", pa.date32(), "the trading session the row is about")
_N = Column("n_posts", pa.int32(), "the votes: posts (board) or stories (news, a story's copies counted once)")
_MEAN = Column("mean_p_up", pa.float64(), "the index: the mean P(up) of the votes")
_STUDY = Column("study", pa.string(), "the study's name")
_OF_BACKTEST = Column("backtest", pa.string(), "the backtest it studies")

TABLES = {t.name: t for t in (
    Table("daily-sentiment", TABLE_HELP["daily-sentiment"],
          (_SOURCE, _VERSION, _TICKER, _SESSION, _N, _MEAN,
           Column("bull_share", pa.float64(), "the share of votes with P(up) > 0.5"),
           Column("updated_at", pa.timestamp("us", tz=_KST), "when the row was last written")),
          "SELECT source, model_version, ticker, session_date, n_posts, mean_p_up, bull_share, updated_at "
          "FROM daily_sentiment d WHERE {where} ORDER BY source, model_version, ticker, session_date",
          "d.session_date"),
    Table("scores", TABLE_HELP["scores"],
          (_SOURCE, _VERSION, _TICKER, Column("post_id", pa.int64(), "the board post (board rows)"),
           Column("office_id", pa.string(), "the news office (news rows)"),
           Column("article_id", pa.string(), "the article (news rows)"),
           Column("comment_no", pa.int64(), "the comment (comments rows; post_id: the post it is under)"),
           Column("posted_at", pa.timestamp("us", tz=_KST), "when the post or article was published, or the "
                  "comment written"),
           Column("p_up", pa.float64(), "the model's probability that the next session goes up"),
           Column("scored_at", pa.timestamp("us", tz=_KST), "when it was scored")),
          "SELECT * FROM (SELECT 'board'::text AS source, s.model_version, s.ticker, s.post_id, NULL::text AS "
          "office_id, NULL::text AS article_id, NULL::bigint AS comment_no, p.posted_at, s.p_up, s.scored_at "
          "FROM post_scores s JOIN posts p USING (ticker, post_id) UNION ALL SELECT 'news', s.model_version, "
          "s.ticker, NULL, s.office_id, s.article_id, NULL, n.published_at, s.p_up, s.scored_at FROM news_scores s "
          "JOIN news n USING (ticker, office_id, article_id) UNION ALL SELECT 'comments', s.model_version, s.ticker, "
          "s.post_id, NULL, NULL, s.comment_no, c.written_at, s.p_up, s.scored_at FROM comment_scores s "
          "JOIN comments c USING (ticker, post_id, comment_no)) d WHERE {where} "
          "ORDER BY source, model_version, ticker, posted_at, post_id, office_id, article_id, comment_no",
          f"(d.posted_at AT TIME ZONE '{_KST}')::date"),
    Table("backtest", TABLE_HELP["backtest"],
          (Column("backtest", pa.string(), "the backtest's name"), _SOURCE, _TICKER, _SESSION, _N, _MEAN,
           Column("ret", pa.float64(), "the session's label return (open to close under next_open_close)")),
          "SELECT backtest, source, ticker, session_date, n_posts, mean_p_up, ret FROM backtest_daily d "
          "WHERE {where} ORDER BY backtest, source, ticker, session_date",
          "d.session_date"),
    Table("study", TABLE_HELP["study"],
          (_STUDY, _OF_BACKTEST, Column("signal", pa.string(), "the signal studied"),
           Column("target", pa.string(), "the return it is read against"),
           Column("horizon", pa.int32(), "sessions the target spans"),
           Column("ic", pa.float64(), "mean cross-sectional Spearman IC over the decision dates of its blocks"),
           Column("ic_low", pa.float64(), "its 95% interval (t over the blocks); null below the verdict minimum"),
           Column("ic_high", pa.float64(), "the interval's upper end"),
           Column("sessions", pa.int32(), "the decision dates behind it"),
           Column("blocks", pa.int32(), "independent blocks of them"),
           Column("p", pa.float64(), "two-sided sign-flip p over the block means"),
           Column("p_adjusted", pa.float64(), "Holm over every cell of the study with a verdict"),
           Column("verdict", pa.string(), "signal, no signal, or too few sessions")),
          "SELECT * FROM (SELECT c.study, s.backtest, c.signal, c.target, c.horizon, c.ic, c.ic_low, c.ic_high, "
          "c.sessions, c.blocks, c.p, c.p_adjusted, c.verdict FROM study_cells c JOIN studies s ON s.name = c.study) d "
          "WHERE {where} ORDER BY study, signal, target, horizon", ""),
    Table("study-books", TABLE_HELP["study-books"],
          (_STUDY, _OF_BACKTEST, Column("signal", pa.string(), "the signal traded"),
           Column("hold", pa.int32(), "sessions between rebalances"),
           Column("kind", pa.string(), "long_short or long_only"),
           Column("sessions", pa.int32(), "sessions held"),
           *(Column(name, pa.float64(), help_) for name, help_ in (
               ("gross_mean", "mean return per session, before costs"),
               ("net_mean", "per session, after costs a side and the sell tax by trade date"),
               ("sharpe", "annualised, gross"), ("sharpe_low", "its 95% interval"), ("sharpe_high", ""),
               ("net_sharpe", "annualised, net"), ("net_sharpe_low", "its 95% interval"), ("net_sharpe_high", ""),
               ("turnover", "units of notional traded per session"),
               ("max_drawdown", "of the net book, compounded"),
               ("break_even_bps", "the cost a side (bps) at which the net mean is 0"))),
           Column("long_only_sessions", pa.int32(), "sessions without a short leg (the short-sale ban)")),
          "SELECT * FROM (SELECT b.study, s.backtest, b.signal, b.hold, b.kind, b.sessions, b.gross_mean, b.net_mean, "
          "b.sharpe, b.sharpe_low, b.sharpe_high, b.net_sharpe, b.net_sharpe_low, b.net_sharpe_high, b.turnover, "
          "b.max_drawdown, b.break_even_bps, b.long_only_sessions FROM study_books b JOIN studies s "
          "ON s.name = b.study) d WHERE {where} ORDER BY study, signal, hold, kind", ""),
)}


def table(name: str) -> Table:
    if name not in TABLES:
        raise ConfigError(f"unknown table {name!r}; exportable: {', '.join(TABLES)}")
    return TABLES[name]


def _where(spec: Table, rows: ExportFilter) -> tuple[str, dict[str, Any]]:
    rows.check_applies(spec.name)
    clauses, params = ["true"], {}
    for value, clause, key in (
            (list(rows.tickers) or None, "d.ticker = ANY(%(tickers)s)", "tickers"),
            (rows.start, f"{spec.date_column} >= %(start)s", "start"),
            (rows.end, f"{spec.date_column} <= %(end)s", "end"),
            (rows.source, "d.source = %(source)s", "source"),
            (rows.model_version, "d.model_version = %(version)s", "version"),
            (rows.backtest, "d.backtest = %(backtest)s", "backtest"),
            (rows.study, "d.study = %(study)s", "study")):
        if value is not None:
            clauses.append(clause)
            params[key] = value
    return " AND ".join(clauses), params


def check_tickers(engine: Engine, tickers: Sequence[str]) -> None:
    """ConfigError naming the codes finsent does not know (exit 2)."""
    from finsent.tickers import require_known

    if tickers:
        require_known(engine, tickers)


def read_rows(engine: Engine, name: str, rows: ExportFilter, *, limit: int | None = None,
              offset: int = 0) -> Iterator[list[tuple]]:
    """The table's rows under the filter, in its order, in chunks (a server-side cursor: a large
    table is never all in memory); ``limit``/``offset`` page it (the API)."""
    spec = table(name)
    rows.validate()
    where, params = _where(spec, rows)
    sql = spec.select.format(where=where)
    if limit is not None:
        sql += " LIMIT %(limit)s OFFSET %(offset)s"
        params.update(limit=limit, offset=offset)
    with raw_connection(engine) as raw:
        with raw.cursor() as setup:
            setup.execute(f"SET TIME ZONE '{_KST}'")  # timestamps come back in KST
        with raw.cursor(name="finsent_export") as cur:
            cur.itersize = _CHUNK
            cur.execute(sql, params)
            while chunk := cur.fetchmany(_CHUNK):
                yield chunk
        raw.rollback()


def plain(value: Any) -> Any:
    """A value as JSON and CSV write it: ISO dates and times, None for NaN."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(spec: Table, chunk: Sequence[tuple]) -> list[dict[str, Any]]:
    names = [c.name for c in spec.columns]
    return [{n: plain(v) for n, v in zip(names, row)} for row in chunk]


def write_export(chunks: Iterator[list[tuple]], spec: Table, fmt: str, out: BinaryIO) -> int:
    """Write the rows to ``out`` as ``fmt``; the number of rows."""
    names, n = [c.name for c in spec.columns], 0
    if fmt == "parquet":
        schema = pa.schema([(c.name, c.type) for c in spec.columns])
        with pq.ParquetWriter(out, schema) as writer:
            for chunk in chunks:
                writer.write_table(pa.Table.from_arrays([pa.array(col, type=f.type) for col, f in
                                                         zip(zip(*chunk), schema)], schema=schema))
                n += len(chunk)
            if n == 0:
                writer.write_table(schema.empty_table())
        return n
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    if fmt == "csv":
        table_writer = csv.writer(text)
        table_writer.writerow(names)
        for chunk in chunks:
            table_writer.writerows([["" if v is None else plain(v) for v in row] for row in chunk])
            n += len(chunk)
    else:
        text.write("[")
        for chunk in chunks:
            for record in records(spec, chunk):
                text.write(("\n" if n == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
                n += 1
        text.write("\n]\n" if n else "]\n")
    text.flush()
    text.detach()
    return n


def format_for(out: Path, fmt: str | None) -> str:
    """The format asked for, else the one ``out``'s suffix names; ConfigError when neither says."""
    suffix = out.suffix.lower().lstrip(".")
    if fmt is None:
        if suffix not in FORMATS:
            raise ConfigError(f"--out {out}: say --format {'|'.join(FORMATS)} (or name the file .csv, .parquet "
                              "or .json)")
        return suffix
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return fmt


def export_table(engine: Engine, name: str, rows: ExportFilter, fmt: str | None, out: Path) -> tuple[int, str]:
    """Write table ``name`` under ``rows`` to ``out`` atomically: (rows written, format)."""
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; name a file")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"--out {out}: the folder {folder} does not exist")
    spec, fmt = table(name), format_for(out, fmt)
    rows.validate()
    rows.check_applies(name)
    check_tickers(engine, rows.tickers)
    handle, partial = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            n = write_export(read_rows(engine, name, rows), spec, fmt, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return n, fmt
