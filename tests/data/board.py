"""Hand-built boards and calendars for the label, quality and dataset tests."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from finsent.ingest.records import KST, NewsRow, PostRow, PriceRow
from finsent.ingest.store import insert_news, insert_posts, upsert_prices


def add_prices(engine: sa.Engine, ticker: str, closes: dict[date, float], halted: tuple[date, ...] = (),
               adjusted: bool = True, opens: dict[date, float] | None = None) -> None:
    """Daily bars; a day opens at ``opens[day]`` when given, else at its close (a flat day)."""
    rows = []
    for day, c in closes.items():
        o = (opens or {}).get(day, c)
        rows.append(PriceRow(ticker, day, Decimal(str(o)), Decimal(str(max(o, c))), Decimal(str(min(o, c))),
                             Decimal(str(c)), 0 if day in halted else 1000, adjusted, "test"))
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        upsert_prices(cur, rows, replace=True)
    raw.commit()
    raw.close()


_next_id = [100_000_000]  # far above the fixed ids generated boards use


def post(ticker: str, when: datetime, title: str, *, body: str | None = None, cleanbot: bool | None = True,
         post_id: int | None = None) -> PostRow:
    if post_id is None:
        _next_id[0] += 1
        post_id = _next_id[0]
    return PostRow(ticker=ticker, post_id=post_id, posted_at=when.replace(tzinfo=KST), title=title, body=body,
                   cleanbot_passed=cleanbot, source="test")


def add_posts(engine: sa.Engine, rows: list[PostRow]) -> None:
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        insert_posts(cur, rows)
    raw.commit()
    raw.close()


def add_news(engine: sa.Engine, rows: list[NewsRow]) -> None:
    """Store news articles through the crawl's own writer (story keys merged as it does)."""
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        insert_news(cur, rows)
    raw.commit()
    raw.close()


def query(engine: sa.Engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]
