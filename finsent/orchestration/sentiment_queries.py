"""What the Sentiment page reads from Postgres: plain functions on a connection, returning dataclasses.

The index is shown only as it was known: a backtest's out-of-sample scores where it ran, then the
champion's scores, but only for sessions after the last one the champion trained or validated on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

HISTORY_DAYS = 365  # the chart shows the last year of sessions


@dataclass(frozen=True)
class Stock:
    code: str
    name: str


@dataclass(frozen=True)
class IndexPoint:
    session_date: date
    mean_p_up: float
    close: float | None  # None where no price is stored for the session
    source: str  # "backtest" or "champion": the model whose out-of-sample scores these are


@dataclass(frozen=True)
class ScoredPost:
    title: str
    p_up: float
    posted_at: datetime


@dataclass(frozen=True)
class FinishedBacktest:
    name: str
    mlflow_run_id: str | None


def latest_backtest(conn: Connection) -> FinishedBacktest | None:
    """The newest walk-forward backtest that finished."""
    row = conn.execute(text("SELECT name, mlflow_run_id FROM backtests WHERE status = 'done' "
                            "ORDER BY finished_at DESC LIMIT 1")).first()
    return FinishedBacktest(row.name, row.mlflow_run_id) if row is not None else None


def indexed_stocks(conn: Connection) -> list[Stock]:
    """The stocks that have an index (the champion's or a backtest's), by code."""
    return [Stock(r.code, r.name) for r in conn.execute(text(
        "SELECT code, name FROM tickers WHERE code IN (SELECT ticker FROM daily_sentiment UNION "
        "SELECT ticker FROM backtest_daily) ORDER BY code"))]


_HISTORY = """
WITH walk AS (
    SELECT session_date, mean_p_up, 'backtest' AS source FROM backtest_daily WHERE backtest = :b AND ticker = :t),
live AS (
    SELECT session_date, mean_p_up, 'champion' AS source FROM daily_sentiment
    WHERE model_version = :v AND ticker = :t AND session_date > :seen
      AND session_date > COALESCE((SELECT max(session_date) FROM walk), DATE '1900-01-01'))
SELECT h.session_date, h.mean_p_up, p.close::float8 AS close, h.source
FROM (SELECT * FROM walk UNION ALL SELECT * FROM live) h
LEFT JOIN prices p ON p.ticker = :t AND p.trade_date = h.session_date
ORDER BY h.session_date
"""


def index_history(conn: Connection, ticker: str, *, backtest: str | None, champion: int | None,
                  seen_through: date | None, days: int = HISTORY_DAYS) -> list[IndexPoint]:
    """The out-of-sample index of ``ticker`` over the last ``days`` before its newest session, with
    the close. A champion that does not say what it trained on (``seen_through`` None) adds no
    sessions: none of its scores is known to be out of sample."""
    history = conn.execute(text(_HISTORY), {
        "t": ticker, "b": backtest or "", "v": champion if champion is not None else -1,
        "seen": seen_through or date(9999, 1, 1)}).all()
    points = [IndexPoint(r.session_date, float(r.mean_p_up), r.close, r.source) for r in history]
    return [p for p in points if (points[-1].session_date - p.session_date).days <= days]


def latest_day_posts(conn: Connection, ticker: str, champion: int | None) -> list[ScoredPost]:
    """The champion's scores of ``ticker``'s posts of the last day it has posts, most bullish first."""
    rows = conn.execute(text(
        "SELECT p.title, s.p_up, p.posted_at FROM post_scores s JOIN posts p USING (ticker, post_id) "
        "WHERE s.ticker = :t AND s.model_version = :v AND p.posted_at >= "
        "(SELECT max(p2.posted_at) FROM posts p2 WHERE p2.ticker = :t) - interval '1 day' "
        "ORDER BY s.p_up DESC, p.post_id"), {"t": ticker, "v": champion if champion is not None else -1}).all()
    return [ScoredPost(r.title, float(r.p_up), r.posted_at) for r in rows]
