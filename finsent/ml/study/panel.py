"""What a study reads: per (stock, session) the signals known before the session's open and the
targets measured from that open on. Nothing here looks ahead:

- a *decision* is made before the open of a session t (09:00 KST, or the later opening of
  ``session_hours``); every signal of (stock, t) uses texts written before that open;
- ``text``: the backtest's out-of-sample index of (stock, t) (``backtest_daily``: the posts whose
  label session is t, scored by a model trained before t); ``disagreement``: the standard
  deviation of those texts' out-of-sample P(up) (at least two texts);
- ``attention``: log((1 + texts in the 24 h before t's open) / (1 + their mean over the stock's 20
  sessions before t)); board posts flagged by the backtest's quality rules do not count, a news
  story counts once;
- targets of (stock, t) at horizon h, from the stock's own sessions t, t+1, ...: ``return`` =
  close(t + h - 1) / open(t) - 1 (the move a reader can still trade), ``abs_return`` = its size,
  ``volume`` = log(mean volume of t .. t + h - 1 / mean volume of the 20 sessions before t).

- ``engagement`` (the board's): as ``attention``, of the comments written under the stock's posts in the
  24 h before t's open (each comment's own time; comments under posts flagged by the rules do not
  count; a comment deleted later counts, it was there). Likes and dislikes are not used: the stored
  counts are read when a post or comment is crawled, after the sessions they would predict, so a
  signal made of them would look ahead.
Sessions are price rows with volume > 0; a (stock, session) counts only while the stock is in the
universe (point in time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from finsent.data.post_comments import open_of_sql
from finsent.db import raw_connection
from finsent.ml.study.spec import COUNT_KINDS, TEXT_SOURCES, signal_source
from finsent.tickers import member_on_sql

TRAILING_SESSIONS = 20  # the baseline of attention and volume: the stock's own last 20 sessions
# what each text source's attention counts in a window: (the FROM/WHERE of its texts of ticker s.ticker
# written in [s.open_at - 24 h, s.open_at), the count expression)
_ATTENTION_TEXTS = {
    "board": ("posts p WHERE p.ticker = s.ticker AND p.posted_at >= s.open_at - interval '24 hours' "
              "AND p.posted_at < s.open_at AND NOT EXISTS (SELECT 1 FROM post_flags f WHERE f.ticker = p.ticker "
              "AND f.post_id = p.post_id AND f.rule = ANY(%(rules)s))", "count(*)"),
    # the board's engagement: the comments under its posts that the board's rules keep (not a source)
    "engagement": ("comments p WHERE p.ticker = s.ticker AND p.written_at >= s.open_at - interval '24 hours' "
                   "AND p.written_at < s.open_at AND NOT EXISTS (SELECT 1 FROM post_flags f WHERE f.ticker = p.ticker "
                   "AND f.post_id = p.post_id AND f.rule = ANY(%(rules)s))", "count(*)"),
    "news": ("news p WHERE p.ticker = s.ticker AND p.published_at >= s.open_at - interval '24 hours' "
             "AND p.published_at < s.open_at", "count(DISTINCT p.story_key)"),
    "comments": ("comments p WHERE p.ticker = s.ticker AND p.written_at >= s.open_at - interval '24 hours' "
                 "AND p.written_at < s.open_at AND NOT EXISTS (SELECT 1 FROM comment_flags f WHERE "
                 "f.ticker = p.ticker AND f.post_id = p.post_id AND f.comment_no = p.comment_no)", "count(*)"),
}
_SESSIONS = f"""
SELECT pr.ticker, pr.trade_date, pr.open::float8, pr.close::float8, pr.volume::float8,
       {member_on_sql("pr.ticker", "pr.trade_date")} AS member
FROM prices pr WHERE pr.volume > 0 ORDER BY pr.ticker, pr.trade_date"""
_COUNTS = f"""
SELECT s.ticker, s.trade_date, (SELECT {{count}} FROM {{texts}}) AS n
FROM (SELECT pr.ticker, pr.trade_date, {open_of_sql("pr.trade_date")} AS open_at
      FROM prices pr WHERE pr.volume > 0 AND pr.trade_date >= %(since)s AND pr.trade_date <= %(until)s) s"""


@dataclass
class Panel:
    """The study's inputs: decision dates, signals and targets per (ticker, session_date)."""

    dates: list  # every session date from the backtest's first scored session to its last, in order
    signals: pd.DataFrame  # ticker, session_date, one column per signal
    sessions: pd.DataFrame  # ticker, session_date, open, close, volume, member (every session)

    def targets(self, horizon: int) -> pd.DataFrame:
        return horizon_targets(self.sessions, horizon)


def _read(engine: Engine, query: str, params: dict, columns: list[str]) -> pd.DataFrame:
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute(query, params)
        return pd.DataFrame(cur.fetchall(), columns=columns)


def horizon_targets(sessions: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Per (ticker, session_date): return, abs_return and volume over the ``horizon`` sessions from it
    (NaN where the stock has not traded that far yet, or has fewer than 20 sessions before it)."""
    frames = []
    for ticker, rows in sessions.groupby("ticker", sort=True):
        rows = rows.sort_values("session_date")
        close_later = rows["close"].shift(-(horizon - 1))
        opens = rows["open"].where(rows["open"] > 0)
        ret = close_later / opens - 1
        ahead = rows["volume"].rolling(horizon).mean().shift(-(horizon - 1))
        before = rows["volume"].rolling(TRAILING_SESSIONS).mean().shift(1)
        frames.append(pd.DataFrame({"ticker": ticker, "session_date": rows["session_date"].to_numpy(),
                                    "return": ret.to_numpy(), "abs_return": ret.abs().to_numpy(),
                                    "volume": np.log(ahead / before).to_numpy()}))
    columns = ["ticker", "session_date", "return", "abs_return", "volume"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def attention(engine: Engine, source: str, since, until, rules: list[str]) -> pd.DataFrame:
    """Per (ticker, session_date) from ``since`` to ``until``: log((1 + n) / (1 + mean n of the 20
    sessions before)), n the source's texts (or ``"engagement"``: the board's comments) in the 24 h before
    the session's open."""
    lookback = pd.Timestamp(since) - pd.Timedelta(days=TRAILING_SESSIONS * 3)  # 20 sessions, holidays and all
    texts, count = _ATTENTION_TEXTS[source]
    counts = _read(engine, _COUNTS.format(texts=texts, count=count),
                   {"since": lookback.date(), "until": until, "rules": rules}, ["ticker", "session_date", "n"])
    counts = counts.sort_values(["ticker", "session_date"], ignore_index=True)
    counts["n"] = counts["n"].astype(float)
    trailing = counts.groupby("ticker")["n"].transform(
        lambda n: n.rolling(TRAILING_SESSIONS, min_periods=TRAILING_SESSIONS).mean().shift(1))
    counts["value"] = np.log((1 + counts["n"]) / (1 + trailing))
    return counts.loc[counts["session_date"] >= since, ["ticker", "session_date", "value"]]


def _text(engine: Engine, backtest: str, source: str) -> pd.DataFrame:
    return _read(engine, "SELECT ticker, session_date, mean_p_up FROM backtest_daily WHERE backtest = %(b)s "
                 "AND source = %(s)s", {"b": backtest, "s": source}, ["ticker", "session_date", "value"])


def _disagreement(engine: Engine, backtest: str, source: str) -> pd.DataFrame:
    return _read(engine, "SELECT ticker, session_date, stddev_samp(p_up)::float8 FROM backtest_scores "
                 "WHERE backtest = %(b)s AND source = %(s)s GROUP BY 1, 2 HAVING count(*) >= 2",
                 {"b": backtest, "s": source}, ["ticker", "session_date", "value"])


def walked_sources(engine: Engine, backtest: str) -> list[str]:
    """The text sources the backtest walked (those with an out-of-sample index), in TEXT_SOURCES order."""
    found = set(_read(engine, "SELECT DISTINCT source FROM backtest_daily WHERE backtest = %(b)s",
                      {"b": backtest}, ["source"])["source"])
    return [source for source in TEXT_SOURCES if source in found]


def has_comments(engine: Engine, backtest: str) -> bool:
    """Whether any board comment is stored for the sessions the backtest scored (engagement has a source)."""
    return bool(_read(engine, "SELECT EXISTS (SELECT 1 FROM comments c, (SELECT min(session_date) AS first, "
                      "max(session_date) AS last FROM backtest_daily WHERE backtest = %(b)s) d "
                      "WHERE c.written_at >= d.first - 30 AND c.written_at < d.last + 1)",
                      {"b": backtest}, ["found"])["found"].iloc[0])


def load_panel(engine: Engine, backtest: str, signals: tuple[str, ...], rules: list[str]) -> Panel:
    """The sessions of every stock and the ``signals`` over the backtest's scored sessions."""
    sessions = _read(engine, _SESSIONS, {}, ["ticker", "session_date", "open", "close", "volume", "member"])
    scored = _read(engine, "SELECT min(session_date), max(session_date) FROM backtest_daily WHERE backtest = %(b)s",
                   {"b": backtest}, ["first", "last"]).iloc[0]
    first, last = scored["first"], scored["last"]
    dates = sorted(d for d in sessions["session_date"].unique() if first <= d <= last)
    frame = sessions.loc[sessions["member"] & sessions["session_date"].isin(dates), ["ticker", "session_date"]]
    for name in signals:
        source, kind = signal_source(name)
        if kind in COUNT_KINDS:
            values = attention(engine, "engagement" if kind == "engagement" else source, first, last, rules)
        else:
            values = (_text if kind == "text" else _disagreement)(engine, backtest, source)
        frame = frame.merge(values.rename(columns={"value": name}), on=["ticker", "session_date"], how="left")
    return Panel(dates, frame.reset_index(drop=True), sessions)
