"""The plugin's JSON API (``/finsent/api/...``): the tables ``finsent export`` writes, as JSON over
HTTP, behind the same Airflow login as the pages (the app's dependencies), with its OpenAPI schema.

``GET /finsent/api/daily-sentiment``, ``/finsent/api/scores`` and ``/finsent/api/backtests``
take ``ticker`` (one code or a comma-separated list), ``from``, ``to``, ``source`` (board|news),
``model_version`` (``backtest`` for backtests); ``/finsent/api/studies`` and ``/study-books`` (each
factor study's grid and books) take ``study`` and ``backtest``. Each answers ``{"table", "synthetic", "count",
"offset", "next_offset", "rows"}``: the export's rows (``finsent.data.export``), paged by ``limit``
and ``offset`` (``next_offset`` is null on the last page). ``format=csv|parquet|json`` answers the
whole file instead, byte for byte what ``finsent export`` writes (the page's download links).
Bad input answers 422 naming the parameter, as the CLI would exit 2.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from finsent.data.export_spec import FORMATS, ExportFilter
from finsent.data.sources import SOURCE_NAMES
from finsent.errors import ConfigError

router = APIRouter()
MAX_LIMIT = 100_000
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet",
               "json": "application/json"}

@lru_cache(maxsize=8)
def _engine_for(database_url: str):
    """One engine (one connection pool) per database URL, kept across requests."""
    from finsent.db import engine_for_url

    return engine_for_url(database_url)


def engine():
    from finsent.config import load_settings
    from finsent.db import database_url

    return _engine_for(database_url(load_settings()))


def _filter(ticker: str | None, start: date | None, end: date | None, source: str | None,
            model_version: int | None = None, backtest: str | None = None, study: str | None = None) -> ExportFilter:
    from finsent.specs import from_values

    values = {"tickers": ticker, "start": start, "end": end, "source": source, "model_version": model_version,
              "backtest": backtest, "study": study}
    try:
        rows: ExportFilter = from_values(ExportFilter, {k: v for k, v in values.items() if v is not None})
    except ConfigError as exc:
        raise HTTPException(status_code=422, detail=str(exc).replace("--from", "from").replace("--to", "to")
                            .replace("--tickers", "ticker").replace("--", "")) from None
    return rows


def _page(table: str, rows: ExportFilter, limit: int, offset: int) -> dict[str, Any]:
    """One page of rows (blocking: runs in the threadpool)."""
    from finsent.data.export import TABLES, check_tickers, read_rows, records
    from finsent.data.origin import synthetic_marks

    db = engine()
    check_tickers(db, rows.tickers)
    found = [r for chunk in read_rows(db, table, rows, limit=limit + 1, offset=offset)
             for r in records(TABLES[table], chunk)]
    with db.connect() as conn:
        synthetic = [m.description for m in synthetic_marks(conn)]
    more = len(found) > limit
    return {"table": table, "synthetic": synthetic, "count": min(len(found), limit), "offset": offset,
            "next_offset": offset + limit if more else None, "rows": found[:limit]}


def _file(table: str, rows: ExportFilter, fmt: str) -> bytes:
    """The whole export as ``finsent export`` writes it (blocking)."""
    from finsent.data.export import TABLES, check_tickers, read_rows, write_export

    db = engine()
    check_tickers(db, rows.tickers)
    with tempfile.SpooledTemporaryFile(max_size=64 * 2**20) as out:
        write_export(read_rows(db, table, rows), TABLES[table], fmt, out)
        out.seek(0)
        return out.read()


async def _answer(table: str, rows: ExportFilter, fmt: str | None, limit: int, offset: int) -> Any:
    try:
        if fmt is None:
            return await run_in_threadpool(_page, table, rows, limit, offset)
        body = await run_in_threadpool(_file, table, rows, fmt)
    except ConfigError as exc:  # an unknown ticker
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return Response(body, media_type=MEDIA_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="finsent-{table}.{fmt}"', "Cache-Control": "private, no-store"})


_TICKER = Query(default=None, max_length=700, description="a six-character code, or several comma-separated")
_FROM = Query(default=None, alias="from", description="first date, inclusive (YYYY-MM-DD)")
_TO = Query(default=None, alias="to", description="last date, inclusive (YYYY-MM-DD)")
_SOURCE = Query(default=None, pattern=f"^({'|'.join(SOURCE_NAMES)})$",
                description=f"{' or '.join(SOURCE_NAMES)} (default every source)")
_FORMAT = Query(default=None, pattern=f"^({'|'.join(FORMATS)})$",
                description="csv, parquet or json: the whole file, as `finsent export` writes it")
_LIMIT = Query(default=10_000, ge=1, le=MAX_LIMIT, description="rows per page")
_OFFSET = Query(default=0, ge=0, description="rows to skip")


def _route(path: str, summary: str) -> Callable:
    return router.get(f"/{path}", summary=summary, response_model=None)


@_route("daily-sentiment", "the daily index per source, model version, stock and session (daily_sentiment)")
async def daily_sentiment(ticker: str | None = _TICKER, start: date | None = _FROM, end: date | None = _TO,
                          source: str | None = _SOURCE, model_version: int | None = Query(default=None, ge=1),
                          format: str | None = _FORMAT, limit: int = _LIMIT, offset: int = _OFFSET) -> Any:
    return await _answer("daily-sentiment", _filter(ticker, start, end, source, model_version), format, limit,
                         offset)


@_route("scores", "P(up) of every scored board post, news headline and comment "
                  "(post_scores, news_scores, comment_scores)")
async def scores(ticker: str | None = _TICKER, start: date | None = _FROM, end: date | None = _TO,
                 source: str | None = _SOURCE, model_version: int | None = Query(default=None, ge=1),
                 format: str | None = _FORMAT, limit: int = _LIMIT, offset: int = _OFFSET) -> Any:
    return await _answer("scores", _filter(ticker, start, end, source, model_version), format, limit, offset)


@_route("backtests", "each walk-forward backtest's out-of-sample index per stock and session (backtest_daily)")
async def backtests(ticker: str | None = _TICKER, start: date | None = _FROM, end: date | None = _TO,
                    source: str | None = _SOURCE, backtest: str | None = Query(default=None, max_length=100),
                    format: str | None = _FORMAT, limit: int = _LIMIT, offset: int = _OFFSET) -> Any:
    return await _answer("backtest", _filter(ticker, start, end, source, backtest=backtest), format, limit,
                         offset)


@_route("studies", "each factor study's grid: IC, interval, n, p and verdict per signal, target and horizon")
async def studies(study: str | None = Query(default=None, max_length=100),
                  backtest: str | None = Query(default=None, max_length=100),
                  format: str | None = _FORMAT, limit: int = _LIMIT, offset: int = _OFFSET) -> Any:
    return await _answer("study", _filter(None, None, None, None, backtest=backtest, study=study), format, limit,
                         offset)


@_route("study-books", "each factor study's books: gross and net of Korean costs per signal, hold and kind")
async def study_books(study: str | None = Query(default=None, max_length=100),
                      backtest: str | None = Query(default=None, max_length=100),
                      format: str | None = _FORMAT, limit: int = _LIMIT, offset: int = _OFFSET) -> Any:
    return await _answer("study-books", _filter(None, None, None, None, backtest=backtest, study=study), format,
                         limit, offset)


def openapi_schema(app: Any, prefix: str) -> dict[str, Any]:
    """The OpenAPI schema of the API's routes (served behind the login, unlike FastAPI's own)."""
    from fastapi.openapi.utils import get_openapi

    routes = [r for r in app.routes if getattr(r, "path", "").startswith("/api/")]
    return get_openapi(title="finsent API", version="1", routes=routes, servers=[{"url": prefix}],
                       description=__doc__)
