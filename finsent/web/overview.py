"""The top of the Sentiment page and its per-stock numbers: one row per stock (latest index, raw
and as a z-score against its trailing sessions, which model or walk it comes from, its last
sessions as a sparkline, the change since the session before, the out-of-sample skill on that
stock with its interval and n), sortable on the server (``?sort=KEY&order=asc|desc``: the page runs
no script), and the backtest's charts side by side (the IC over time and the cumulative long-short
before and after cost). Pure functions of the queries' dataclasses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from finsent.data.sources import DEFAULT_SOURCE
from finsent.ingest.records import KST
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT, balanced_accuracy_from_counts, min_sessions_for_verdict
from finsent.web.charts import ROLLING_SESSIONS, Line, line_chart, sparkline
from finsent.web.queries import WALKED, BookDay, IndexPoint, SessionCounts, Stock
from finsent.web.text import plain_text

Z_SESSIONS = 60  # the z-score compares the latest index with this many sessions before it
MIN_Z_SESSIONS = 20  # fewer: no z-score
SORT_KEYS = ("code", "index", "change", "z", "skill", "sessions")
SPARK_SESSIONS = 60  # the overview's sparkline: about three months of sessions


@dataclass(frozen=True)
class Skill:
    """Out-of-sample balanced accuracy on one stock, its 95% interval (jackknife over sessions, or
    blocks of ``horizon`` of them for labels over that many sessions) and n."""

    balanced_accuracy: float
    low: float
    high: float
    n_sessions: int
    n_posts: int
    horizon: int = 1

    @property
    def has_verdict(self) -> bool:
        return self.n_sessions >= min_sessions_for_verdict(self.horizon)


@dataclass(frozen=True)
class IndexOrigins:
    """What each stretch of the out-of-sample index comes from: a backtest's walk, then a champion."""

    backtest: str | None = None  # the walk's name
    champion: str | None = None  # e.g. "finsent-updown v1"

    def of(self, point: IndexPoint) -> str:
        if point.source == "backtest":
            return f"backtest {self.backtest}" if self.backtest else "backtest"
        return self.champion or "champion"


@dataclass(frozen=True)
class StockRow:
    stock: Stock
    latest: IndexPoint | None
    change: float | None  # since the session before
    z: float | None  # against the Z_SESSIONS sessions before the latest
    skill: Skill | None
    forecast: bool  # the latest session has not traded yet
    origin: str = ""  # which model or walk the latest index comes from (``IndexOrigins.of``)
    recent: tuple[float, ...] = ()  # the last SPARK_SESSIONS values of the index

    def key(self, name: str) -> float | str:
        numbers = {"index": self.latest.mean_p_up if self.latest else None, "change": self.change, "z": self.z,
                   "skill": self.skill.balanced_accuracy if self.skill else None,
                   "sessions": self.skill.n_sessions if self.skill else None}
        if name == "code":
            return self.stock.code
        value = numbers.get(name)
        return value if value is not None and math.isfinite(value) else -math.inf


def zscore(history: Sequence[IndexPoint], sessions: int = Z_SESSIONS) -> float | None:
    """(latest - mean) / sd of the ``sessions`` sessions before the latest; None with too few or no spread."""
    before = np.array([p.mean_p_up for p in history[-sessions - 1:-1]])
    if len(before) < MIN_Z_SESSIONS or before.std(ddof=1) == 0:
        return None
    return float((history[-1].mean_p_up - before.mean()) / before.std(ddof=1))


def stock_skills(counts: Sequence[SessionCounts], horizon: int = 1) -> dict[str, Skill]:
    """Per stock: balanced accuracy of its out-of-sample scored posts, clustered by session (blocks
    of ``horizon`` sessions: the labels' span)."""
    frame = pd.DataFrame([(c.ticker, c.session_date, c.ups, c.downs, c.hits, c.false_alarms) for c in counts],
                         columns=["ticker", "session_date", "ups", "downs", "hits", "false_alarms"])
    skills = {}
    for ticker, part in frame.groupby("ticker"):
        part = part.sort_values("session_date")
        value, low, high = balanced_accuracy_from_counts(part["hits"].to_numpy(), part["ups"].to_numpy(),
                                                         part["false_alarms"].to_numpy(), part["downs"].to_numpy(),
                                                         horizon)
        skills[str(ticker)] = Skill(value, low, high, len(part), int(part["ups"].sum() + part["downs"].sum()),
                                    horizon)
    return skills


def stock_row(stock: Stock, history: Sequence[IndexPoint], skill: Skill | None, priced: date | None,
              origins: IndexOrigins | None = None) -> StockRow:
    if not history:
        return StockRow(stock, None, None, None, skill, False)
    latest = history[-1]
    change = latest.mean_p_up - history[-2].mean_p_up if len(history) > 1 else None
    forecast = priced is None or latest.session_date > priced
    return StockRow(stock, latest, change, zscore(history), skill, forecast, (origins or IndexOrigins()).of(latest),
                    tuple(p.mean_p_up for p in history[-SPARK_SESSIONS:]))


def sort_rows(rows: Sequence[StockRow], key: str, descending: bool) -> list[StockRow]:
    key = key if key in SORT_KEYS else "code"
    return sorted(rows, key=lambda r: r.key(key), reverse=descending)


def skill_text(skill: Skill | None) -> str:
    if skill is None:
        return '<span class="muted">no out-of-sample labels yet</span>'
    counts = f"n = {skill.n_sessions} sessions, {skill.n_posts} posts"
    if not math.isfinite(skill.balanced_accuracy):
        return f'undefined <span class="muted">(one class only: {counts})</span>'

    if not skill.has_verdict:
        return (f'{skill.balanced_accuracy:.3f} <span class="warn">too few sessions for a verdict</span> '
                f'<span class="muted">({counts})</span>')
    return (f"{skill.balanced_accuracy:.3f} [{skill.low:.3f}, {skill.high:.3f}] "
            f'<span class="muted">({counts})</span>')


def _keep(source: str) -> str:
    """The query part that keeps the page's source in a link (none for the default, the board)."""
    return "" if source == DEFAULT_SOURCE else f"&amp;source={escape(source)}"


def _header(key: str, label: str, sort: str, descending: bool, source: str = DEFAULT_SOURCE) -> str:
    order = "asc" if key == sort and descending else "desc"
    arrow = (" ▼" if descending else " ▲") if key == sort else ""
    return f'<th><a href="?sort={key}&amp;order={order}{_keep(source)}">{escape(label)}{arrow}</a></th>'


def _row_html(row: StockRow, source: str = DEFAULT_SOURCE) -> str:
    link = (f'<a href="?ticker={escape(row.stock.code)}{_keep(source)}">{escape(row.stock.code)}</a> '
            f"{escape(plain_text(row.stock.name))}")
    if row.latest is None:
        return f"<tr><td>{link}</td>" + "<td>-</td>" * 7 + "</tr>"
    when = (f'{row.latest.session_date} <b class="fc">forecast</b>' if row.forecast
            else f"{row.latest.session_date}")
    change = f"{row.change:+.3f}" if row.change is not None else "-"
    z = f"{row.z:+.2f}" if row.z is not None else '<span class="muted">-</span>'
    spark = sparkline(row.recent, label=f"{row.stock.code}: the index over its last {len(row.recent)} sessions")
    return (f"<tr><td>{link}</td><td>{when}</td><td class=num>{row.latest.mean_p_up:.3f}</td>"
            f"<td class=muted>{escape(row.origin)}</td><td>{spark}</td>"
            f"<td class=num>{change}</td><td class=num>{z}</td><td>{skill_text(row.skill)}</td></tr>")


def overview_html(rows: Sequence[StockRow], sort: str, descending: bool, built_at: datetime | None,
                  source: str = DEFAULT_SOURCE) -> str:
    """The table at the top (of ``source``'s index); the forecast note says when the index was computed."""
    heads = "".join(_header(k, label, sort, descending, source) if k else f"<th>{escape(label)}</th>"
                    for k, label in (
        ("code", "stock"), ("sessions", "session"), ("index", "index: mean P(up)"), ("", "from (out of sample)"),
        ("", f"last {SPARK_SESSIONS} sessions"), ("change", "change"), ("z", f"z ({Z_SESSIONS} sessions)"),
        ("skill", "out-of-sample balanced accuracy [95%]")))
    body = "".join(_row_html(r, source) for r in sort_rows(rows, sort, descending))
    board = source == WALKED  # the board's history starts with its backtest
    items, votes = ("posts", "posts") if board else ("headlines (a story's copies left out)", "headlines")
    history = "backtest, then the champion after what it saw" if board else "the news champion after what it saw"
    computed = f"{built_at.astimezone(KST):%Y-%m-%d %H:%M} KST" if built_at else "unknown"
    forecast = any(r.forecast for r in rows)
    return (f'<table class="overview"><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>'
            f'<p class="muted">change: since the session before. z: the latest index against the {Z_SESSIONS} '
            f"sessions before it (at least {MIN_Z_SESSIONS}). Balanced accuracy: the stock's out-of-sample up/down "
            f"{items} of the index's history ({history}), 95% interval from a "
            f"jackknife over sessions; below {MIN_SESSIONS_FOR_VERDICT} sessions no verdict. The index is out of "
            "sample only (from: the walk or the model that scored it); <code>daily_sentiment</code> (the export, "
            "the API) keeps each model version's own index, in sample on the sessions that version trained on. "
            + (f"<b class=fc>forecast</b>: that session has not traded yet (no price); the index was computed "
               f"{computed} from the {votes} before its open." if forecast else f"Index computed {computed}.")
            + "</p>")


def rolling_timing(history: Sequence[IndexPoint], window: int = ROLLING_SESSIONS) -> list[float | None]:
    """Per session: the Spearman correlation of the index with the session's return over the last
    ``window`` sessions that have one (None before the first full window)."""
    pairs = [(i, p.mean_p_up, p.ret) for i, p in enumerate(history) if p.ret is not None]
    out: list[float | None] = [None] * len(history)
    if len(pairs) < window:
        return out
    x = np.lib.stride_tricks.sliding_window_view(np.array([p[1] for p in pairs]), window)
    y = np.lib.stride_tricks.sliding_window_view(np.array([p[2] for p in pairs]), window)
    rx, ry = scipy_stats.rankdata(x, axis=1), scipy_stats.rankdata(y, axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (rx * ry).sum(axis=1) / np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    for (i, _, _), value in zip(pairs[window - 1:], corr):
        out[i] = float(value) if np.isfinite(value) else None
    return out


def backtest_charts_html(days: Sequence[BookDay], cost_bps: float, sell_tax_bps: float, name: str = "") -> str:
    """The backtest's IC over time (per date across stocks, and its rolling mean) and the
    cumulative long-short before and after cost (``finsent.ml.backtest.report``'s book), side by side."""
    from finsent.ml.backtest.report import long_short
    from finsent.ml.stats import per_date_ic

    frame = pd.DataFrame([(d.ticker, d.session_date, d.mean_p_up, d.ret, d.ret_open_close) for d in days],
                         columns=["ticker", "session_date", "mean_p_up", "ret", "ret_open_close"])
    if frame.empty:
        return ""
    walk = f"backtest {escape(name)}: " if name else ""
    ic = per_date_ic(frame)
    parts = []
    if len(ic) >= 2:
        rolling = ic["ic"].rolling(ROLLING_SESSIONS, min_periods=ROLLING_SESSIONS).mean()
        note = ("" if len(ic) >= MIN_SESSIONS_FOR_VERDICT else
                f' <b class="warn">too few sessions for a verdict (n = {len(ic)})</b>')
        parts.append(f"<div><h3>{walk}IC over time: {len(ic)} sessions with at least 3 stocks{note}</h3>" + line_chart(
            list(ic["session_date"]), [Line("IC per session", list(ic["ic"]), "#cbd5e1", 1.0),
                                       Line(f"{ROLLING_SESSIONS}-session mean", _none(rolling), "#2563eb", 2.0)],
            title="IC over time", reference=(0.0, "0"), width=560) + "</div>")
    book = long_short(frame, cost_bps, sell_tax_bps)
    if len(book) >= 2:
        note = ("" if len(book) >= MIN_SESSIONS_FOR_VERDICT else
                f' <b class="warn">too few sessions for a verdict (n = {len(book)})</b>')
        parts.append(f"<div><h3>{walk}long-short, cumulative: {len(book)} sessions{note}</h3>" + line_chart(
            list(book["session_date"]), [
                Line("before cost", list((1 + book["gross"]).cumprod()), "#16a34a", 2.0),
                Line(f"after {cost_bps:g} bps a side + {sell_tax_bps:g} bps tax", list((1 + book["net"]).cumprod()),
                     "#dc2626", 2.0)], title="cumulative long-short", reference=(1.0, "1 = start"), width=560)
            + "</div>")
    return f'<div class="cols charts">{"".join(parts)}</div>' if parts else ""


def _none(series: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else float(v) for v in series]
