"""What the Sentiment page reads from Postgres: plain functions on a connection, returning dataclasses.
Every SQL statement of the page is here (one place to filter, e.g. by source).

The index is shown only as it was known: a backtest's out-of-sample scores where it ran, then the
champion's scores, but only for sessions after the last one the champion trained or validated on.
Posts are shown only where the index uses them: quality-flagged posts are left out everywhere.
Each source has its own index (``daily_sentiment.source``): the board's (with its backtest) and the
news' (news articles scored by the news champion; no backtest of its own here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from finsent.data.sources import BOARD, DEFAULT_SOURCE, SOURCE_NAMES, TextSource

HISTORY_DAYS = 365  # the chart shows the last year of sessions
SOURCES = SOURCE_NAMES  # the page's source filter: whose index it shows
WALKED = BOARD.name  # the source whose walk-forward backtest the page shows (the news has none of its own here)
_NEVER = date(9999, 1, 1)
_UNFLAGGED = "NOT EXISTS (SELECT 1 FROM post_flags f WHERE f.ticker = {t} AND f.post_id = {p})"


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
    ret: float | None = None  # the session's label return (backtest sessions), for the rolling correlation


@dataclass(frozen=True)
class ScoredPost:
    title: str
    p_up: float
    posted_at: datetime
    post_id: int = 0
    ticker: str = ""
    url: str = ""  # a news article's link (a post's is built from ticker and post_id)


@dataclass(frozen=True)
class FinishedBacktest:
    name: str
    mlflow_run_id: str | None
    spec: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SessionCounts:
    """One (stock, session) of out-of-sample scored up/down posts: what per-stock skill needs."""

    ticker: str
    session_date: date
    ups: int
    downs: int
    hits: int  # up posts predicted up (P(up) > 0.5)
    false_alarms: int  # down posts predicted up


@dataclass(frozen=True)
class BookDay:
    """One (stock, session) of a backtest: its index, label return and open-to-close return."""

    ticker: str
    session_date: date
    mean_p_up: float
    ret: float
    ret_open_close: float | None


def latest_backtest(conn: Connection) -> FinishedBacktest | None:
    """The newest walk-forward backtest that finished."""
    row = conn.execute(text(
        "SELECT name, mlflow_run_id, spec FROM backtests b WHERE status = 'done' AND EXISTS "
        "(SELECT 1 FROM backtest_daily d WHERE d.backtest = b.name AND d.source = :walked) "
        "ORDER BY finished_at DESC LIMIT 1"), {"walked": WALKED}).first()
    return FinishedBacktest(row.name, row.mlflow_run_id, dict(row.spec or {})) if row is not None else None


def indexed_stocks(conn: Connection, source: str = DEFAULT_SOURCE) -> list[Stock]:
    """The stocks that have an index of ``source`` (the champion's, or for the board a backtest's), by code."""
    walked = " UNION SELECT ticker FROM backtest_daily WHERE source = :s" if source == WALKED else ""
    return [Stock(r.code, r.name) for r in conn.execute(text(
        f"SELECT code, name FROM tickers WHERE code IN (SELECT ticker FROM daily_sentiment WHERE source = :s{walked}) "
        "ORDER BY code"), {"s": source})]


_HISTORY = """
WITH walk AS (
    SELECT ticker, session_date, mean_p_up, 'backtest' AS source, ret FROM backtest_daily
    WHERE backtest = :b AND source = :walked AND ticker = ANY(:t)),
walk_end AS (SELECT ticker, max(session_date) AS last FROM walk GROUP BY ticker),
live AS (
    SELECT d.ticker, d.session_date, d.mean_p_up, 'champion' AS source, NULL::float8 AS ret FROM daily_sentiment d
    LEFT JOIN walk_end w ON w.ticker = d.ticker
    WHERE d.source = :src AND d.model_version = :v AND d.ticker = ANY(:t) AND d.session_date > :seen
      AND d.session_date > COALESCE(w.last, DATE '1900-01-01'))
SELECT h.ticker, h.session_date, h.mean_p_up, p.close::float8 AS close, h.source, h.ret
FROM (SELECT * FROM walk UNION ALL SELECT * FROM live) h
LEFT JOIN prices p ON p.ticker = h.ticker AND p.trade_date = h.session_date
ORDER BY h.ticker, h.session_date
"""


def index_histories(conn: Connection, tickers: list[str], *, backtest: str | None, champion: int | None,
                    seen_through: date | None, days: int = HISTORY_DAYS,
                    source: str = DEFAULT_SOURCE) -> dict[str, list[IndexPoint]]:
    """The out-of-sample index of ``source`` of each of ``tickers`` over the last ``days`` before its
    newest session, with the close (one query). A champion that does not say what it trained on
    (``seen_through`` None) adds no sessions: none of its scores is known to be out of sample."""
    rows = conn.execute(text(_HISTORY), {
        "t": list(tickers), "b": backtest or "", "v": champion if champion is not None else -1,
        "seen": seen_through or _NEVER, "src": source, "walked": WALKED}).all()
    histories: dict[str, list[IndexPoint]] = {t: [] for t in tickers}
    for r in rows:
        histories[r.ticker].append(IndexPoint(r.session_date, float(r.mean_p_up), r.close, r.source,
                                              float(r.ret) if r.ret is not None else None))
    return {t: [p for p in points if (points[-1].session_date - p.session_date).days <= days]
            for t, points in histories.items()}


def index_history(conn: Connection, ticker: str, *, backtest: str | None, champion: int | None,
                  seen_through: date | None, days: int = HISTORY_DAYS,
                  source: str = DEFAULT_SOURCE) -> list[IndexPoint]:
    """``index_histories`` of one stock."""
    return index_histories(conn, [ticker], backtest=backtest, champion=champion, seen_through=seen_through,
                           days=days, source=source)[ticker]


def priced_through(conn: Connection) -> dict[str, date]:
    """Per stock, its last session with a price: a later index session has not traded yet."""
    return dict(conn.execute(text("SELECT ticker, max(trade_date) FROM prices GROUP BY ticker")).all())


def index_built_at(conn: Connection, champion: int | None, source: str = DEFAULT_SOURCE) -> datetime | None:
    """When the champion's index of ``source`` was last brought up to date (``finsent score``)."""
    return conn.execute(text("SELECT built_at FROM daily_sentiment_state WHERE source = :s AND model_version = :v"),
                        {"v": champion if champion is not None else -1, "s": source}).scalar()


def latest_day_posts(conn: Connection, ticker: str, champion: int | None) -> list[ScoredPost]:
    """The champion's scores of ``ticker``'s posts of the last day it has posts, most bullish first:
    only posts the index uses (no quality-flagged post)."""
    rows = conn.execute(text(
        "SELECT p.title, s.p_up, p.posted_at, p.post_id, p.ticker FROM post_scores s "
        "JOIN posts p USING (ticker, post_id) WHERE s.ticker = :t AND s.model_version = :v AND p.posted_at >= "
        "(SELECT max(p2.posted_at) FROM posts p2 WHERE p2.ticker = :t) - interval '1 day' AND "
        + _UNFLAGGED.format(t="p.ticker", p="p.post_id") + " ORDER BY s.p_up DESC, p.post_id"),
        {"t": ticker, "v": champion if champion is not None else -1}).all()
    return [ScoredPost(r.title, float(r.p_up), r.posted_at, int(r.post_id), r.ticker) for r in rows]


def latest_day_news(conn: Connection, ticker: str, champion: int | None) -> list[ScoredPost]:
    """``latest_day_posts`` of the news: the news champion's scores of the articles of ``ticker``'s
    last day with news that the index uses (no flagged article: a story's copies are flagged)."""
    rows = conn.execute(text(
        "SELECT n.title, s.p_up, n.published_at, n.ticker, n.article_url FROM news_scores s "
        "JOIN news n USING (ticker, office_id, article_id) WHERE s.ticker = :t AND s.model_version = :v AND "
        "n.published_at >= (SELECT max(n2.published_at) FROM news n2 WHERE n2.ticker = :t) - interval '1 day' AND "
        "NOT EXISTS (SELECT 1 FROM news_flags f WHERE (f.ticker, f.office_id, f.article_id) = "
        "(n.ticker, n.office_id, n.article_id)) ORDER BY s.p_up DESC, n.office_id, n.article_id"),
        {"t": ticker, "v": champion if champion is not None else -1}).all()
    return [ScoredPost(r.title, float(r.p_up), r.published_at, 0, r.ticker, r.article_url) for r in rows]


_SKILL = f"""
WITH walk_end AS (SELECT ticker, max(session_date) AS last FROM backtest_daily
                  WHERE backtest = :b AND source = :walked GROUP BY ticker),
scored AS (
    SELECT ticker, post_id, p_up, true AS walked FROM backtest_scores WHERE backtest = :b AND source = :walked
    UNION ALL
    SELECT ticker, post_id, p_up, false FROM post_scores WHERE model_version = :v)
SELECT c.ticker, l.session_date, count(*) FILTER (WHERE l.label = 'up') AS ups,
       count(*) FILTER (WHERE l.label = 'down') AS downs,
       count(*) FILTER (WHERE l.label = 'up' AND c.p_up > 0.5) AS hits,
       count(*) FILTER (WHERE l.label = 'down' AND c.p_up > 0.5) AS false_alarms
FROM scored c
JOIN labels l ON l.definition = :d AND l.ticker = c.ticker AND l.post_id = c.post_id
LEFT JOIN walk_end w ON w.ticker = c.ticker
WHERE l.label IN ('up', 'down') AND {_UNFLAGGED.format(t="c.ticker", p="c.post_id")}
  AND (c.walked OR (l.session_date > :seen AND l.session_date > COALESCE(w.last, DATE '1900-01-01')))
GROUP BY 1, 2 ORDER BY 1, 2
"""


def label_horizon(conn: Connection, definition: str) -> int:
    """How many sessions the labels of ``definition`` span (1 when it is not registered)."""
    found = conn.execute(text("SELECT horizon FROM label_definitions WHERE name = :d"), {"d": definition}).scalar()
    return int(found) if found else 1


def skill_counts(conn: Connection, *, backtest: str | None, champion: int | None, seen_through: date | None,
                 definition: str) -> list[SessionCounts]:
    """Per (stock, session): the out-of-sample scored up/down posts of the index's history (the
    backtest's, then the champion's after what it saw) under labels ``definition``."""
    rows = conn.execute(text(_SKILL), {"b": backtest or "", "walked": WALKED,
                                       "v": champion if champion is not None else -1,
                                       "seen": seen_through or _NEVER, "d": definition}).all()
    return [SessionCounts(r.ticker, r.session_date, r.ups, r.downs, r.hits, r.false_alarms) for r in rows]


def _champion_skill_sql(source: TextSource) -> str:
    """``_SKILL`` for a source without the page's walk, from its record: the champion's scored up/down
    texts of the sessions after what it saw, flagged texts (a story's copies among them) left out."""
    keys = ("ticker", *source.keys)
    same = " AND ".join(f"l.{k} = s.{k}" for k in keys)
    return f"""
SELECT s.ticker, l.session_date, count(*) FILTER (WHERE l.label = 'up') AS ups,
       count(*) FILTER (WHERE l.label = 'down') AS downs,
       count(*) FILTER (WHERE l.label = 'up' AND s.p_up > 0.5) AS hits,
       count(*) FILTER (WHERE l.label = 'down' AND s.p_up > 0.5) AS false_alarms
FROM {source.scores} s
JOIN {source.labels} l ON l.definition = :d AND {same}
WHERE s.model_version = :v AND l.label IN ('up', 'down') AND l.session_date > :seen
  AND NOT EXISTS (SELECT 1 FROM {source.flags} f WHERE ({", ".join(f"f.{k}" for k in keys)}) =
                  ({", ".join(f"s.{k}" for k in keys)}))
GROUP BY 1, 2 ORDER BY 1, 2
"""


def champion_skill_counts(conn: Connection, source: TextSource, *, champion: int | None,
                          seen_through: date | None, definition: str) -> list[SessionCounts]:
    """``skill_counts`` of a source the page has no walk of (news, comments): its champion's scored
    up/down texts of the sessions after what it saw."""
    rows = conn.execute(text(_champion_skill_sql(source)), {"v": champion if champion is not None else -1,
                                                            "seen": seen_through or _NEVER, "d": definition}).all()
    return [SessionCounts(r.ticker, r.session_date, r.ups, r.downs, r.hits, r.false_alarms) for r in rows]


def latest_day_comments(conn: Connection, ticker: str, champion: int | None) -> list[ScoredPost]:
    """``latest_day_posts`` of the comments: the comments champion's scores of ``ticker``'s comments of
    its last day with comments that the index uses (each links to the post it is under)."""
    rows = conn.execute(text(
        "SELECT c.text, s.p_up, c.written_at, c.post_id, c.ticker FROM comment_scores s "
        "JOIN comments c USING (ticker, post_id, comment_no) WHERE s.ticker = :t AND s.model_version = :v AND "
        "c.written_at >= (SELECT max(c2.written_at) FROM comments c2 WHERE c2.ticker = :t) - interval '1 day' AND "
        "NOT EXISTS (SELECT 1 FROM comment_flags f WHERE (f.ticker, f.post_id, f.comment_no) = "
        "(c.ticker, c.post_id, c.comment_no)) ORDER BY s.p_up DESC, c.post_id, c.comment_no"),
        {"t": ticker, "v": champion if champion is not None else -1}).all()
    return [ScoredPost(r.text, float(r.p_up), r.written_at, int(r.post_id), r.ticker) for r in rows]


def backtest_days(conn: Connection, backtest: str) -> list[BookDay]:
    """Every (stock, session) of the backtest's index with its label and open-to-close returns."""
    rows = conn.execute(text(
        "SELECT d.ticker, d.session_date, d.mean_p_up, d.ret, "
        "CASE WHEN p.volume > 0 THEN (p.close / NULLIF(p.open, 0) - 1)::float8 END AS ret_open_close "
        "FROM backtest_daily d LEFT JOIN prices p ON p.ticker = d.ticker AND p.trade_date = d.session_date "
        "WHERE d.backtest = :b AND d.source = :walked ORDER BY d.session_date, d.ticker"),
        {"b": backtest, "walked": WALKED}).all()
    return [BookDay(r.ticker, r.session_date, float(r.mean_p_up), float(r.ret), r.ret_open_close) for r in rows]


def daily_values(conn: Connection, sessions: dict[str, date], champion: int | None,
                 source: str = DEFAULT_SOURCE) -> dict[str, float]:
    """``daily_sentiment`` of the champion (``source``'s) on each stock's given session: what the
    export and the API hold for it, beside the out-of-sample index the page shows."""
    if champion is None or not sessions:
        return {}
    rows = conn.execute(text(
        "SELECT d.ticker, d.mean_p_up FROM daily_sentiment d JOIN unnest(CAST(:t AS text[]), CAST(:d AS date[])) "
        "AS s(ticker, session_date) USING (ticker, session_date) WHERE d.source = :src AND d.model_version = :v"),
        {"t": list(sessions), "d": list(sessions.values()), "src": source, "v": champion}).all()
    return {r.ticker: float(r.mean_p_up) for r in rows}
