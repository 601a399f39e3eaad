"""Daily prices (SOURCES.md section 3): fchart XML, siseJson, and the legacy sise_day HTML."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from finsent.errors import PageParseError
from finsent.ingest.feeds.board_html import cell_text, data_rows, last_page_number, legacy_page_table
from finsent.ingest.records import PriceRow, bar_problem

# fchart serves at most about this many sessions per request (its whole history for our stocks).
FCHART_MAX_COUNT = 6000


@dataclass
class PricePage:
    rows: list[PriceRow]
    halted: int  # trading-halt rows (volume 0): not sessions, dropped
    last_page: int | None = None


def _decimal(text: str) -> Decimal:
    value = Decimal(str(text).replace(",", "").strip())
    if not value.is_finite() or value < 0:
        raise ValueError(f"bad price {text!r}")
    return value


def _row(ticker: str, day: date, fields: list, adjusted: bool, source: str) -> PriceRow:
    open_, high, low, close = (_decimal(f) for f in fields[:4])
    volume = int(str(fields[4]).replace(",", "").strip())
    row = PriceRow(ticker, day, open_, high, low, close, volume, adjusted, source)
    problem = bar_problem(row)
    if problem:
        raise ValueError(problem)
    return row


def _keep_sessions(rows: list[PriceRow]) -> PricePage:
    sessions = [r for r in rows if r.volume > 0]
    return PricePage(rows=sessions, halted=len(rows) - len(sessions))


# --- fchart --------------------------------------------------------------------------------


def fchart_params(ticker: str, count: int) -> dict[str, str]:
    return {"symbol": ticker, "timeframe": "day", "count": str(count), "requestType": "0"}


def parse_fchart(body: bytes, url: str, ticker: str) -> PricePage:
    """``<item data="YYYYMMDD|open|high|low|close|volume"/>``, split-adjusted, oldest first."""
    if not body.strip():
        raise PageParseError(url, "empty body")
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise PageParseError(url, f"not well-formed XML ({exc})") from None
    chart = root if root.tag == "chartdata" else root.find("chartdata")
    if chart is None:
        raise PageParseError(url, "no <chartdata> element")
    symbol = chart.get("symbol")
    if symbol not in (None, ticker):
        raise PageParseError(url, f"chartdata is for symbol {symbol!r}, asked for {ticker!r}")
    rows: list[PriceRow] = []
    for index, item in enumerate(chart.iter("item")):
        data = item.get("data", "")
        try:
            fields = data.split("|")
            if len(fields) != 6:
                raise ValueError(f"{len(fields)} fields, expected 6")
            day = datetime.strptime(fields[0], "%Y%m%d").date()
            rows.append(_row(ticker, day, fields[1:], True, "fchart"))
        except (ValueError, InvalidOperation) as exc:
            raise PageParseError(url, f"item {index} data={data!r}: {exc}") from None
    return _keep_sessions(rows)


# --- siseJson --------------------------------------------------------------------------------


def sise_json_params(ticker: str, start: date, end: date) -> dict[str, str]:
    return {
        "symbol": ticker,
        "requestType": "1",
        "startTime": start.strftime("%Y%m%d"),
        "endTime": end.strftime("%Y%m%d"),
        "timeframe": "day",
    }


def parse_sise_json(body: bytes, url: str, ticker: str) -> PricePage:
    """A JavaScript array literal (single-quoted header row), not JSON: read it as a Python literal."""
    if not body.strip():
        raise PageParseError(url, "empty body")
    try:
        text = body.decode("utf-8", errors="strict").strip()
    except UnicodeDecodeError as exc:
        raise PageParseError(url, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        table = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise PageParseError(url, f"not an array literal ({type(exc).__name__})") from None
    if not isinstance(table, list) or not table or not isinstance(table[0], list) or "날짜" not in table[0]:
        raise PageParseError(url, "first row is not the 날짜 header")
    rows: list[PriceRow] = []
    for index, record in enumerate(table[1:], start=1):
        try:
            if not isinstance(record, list) or len(record) < 6:
                raise ValueError("expected at least 6 fields")
            day = datetime.strptime(str(record[0]).strip(), "%Y%m%d").date()
            rows.append(_row(ticker, day, list(record[1:6]), True, "sisejson"))
        except (ValueError, InvalidOperation) as exc:
            raise PageParseError(url, f"row {index} {record!r}: {exc}") from None
    return _keep_sessions(rows)


# --- legacy sise_day HTML ---------------------------------------------------------------------------


def sise_day_params(ticker: str, page: int) -> dict[str, str]:
    return {"code": ticker, "page": str(page)}


def parse_sise_day(body: bytes, content_type: str | None, url: str, ticker: str) -> PricePage:
    """10 rows a page, newest first, 7 cells: 날짜 종가 전일비 시가 고가 저가 거래량. Not split-adjusted."""
    tree, table = legacy_page_table(body, content_type, url)
    rows: list[PriceRow] = []
    for number, row in enumerate(data_rows(table), start=1):
        cells = [cell_text(cell) for cell in row.xpath("./td")]
        if len(cells) != 7:
            raise PageParseError(url, f"price row {number} has {len(cells)} cells, expected 7")
        if not cells[0]:
            continue  # the real pages pad short last pages with empty rows
        try:
            day = datetime.strptime(cells[0], "%Y.%m.%d").date()
            close, open_, high, low, volume = cells[1], cells[3], cells[4], cells[5], cells[6]
            rows.append(_row(ticker, day, [open_, high, low, close, volume], False, "sise-day"))
        except (ValueError, InvalidOperation) as exc:
            raise PageParseError(url, f"price row {number} {cells!r}: {exc}") from None
    page = _keep_sessions(rows)
    page.last_page = last_page_number(tree)
    return page
