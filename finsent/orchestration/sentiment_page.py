"""The "Sentiment" page shown inside the Airflow UI: server-side HTML, no scripts.

Per stock: the daily sentiment index (mean P(up) of the posts before each session) against the
close over the last year, as an inline SVG; the most bullish and bearish posts of the latest
day; the champion's version and test metrics with a link to MLflow. Titles are hostile input:
every value is HTML-escaped, and the page is served with a Content-Security-Policy that allows no
script at all.

The page is three parts: ``sentiment_queries`` reads Postgres, ``sentiment_summaries`` reads
MLflow, and this module renders what they return with small pure functions;
``render_sentiment_page`` joins them for one request.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.ingest.records import KST
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT
from finsent.orchestration.sentiment_queries import (
    IndexPoint,
    ScoredPost,
    Stock,
    index_history,
    indexed_stocks,
    latest_backtest,
    latest_day_posts,
)
from finsent.orchestration.sentiment_summaries import Backtest, Champion, Summaries, read_summaries

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"
_TOP = 5


def render_sentiment_page(engine: Engine, settings: Settings, ticker: str | None = None) -> str:
    """The whole page for one request: every stock, or only ``ticker``."""
    with engine.connect() as conn:
        finished = latest_backtest(conn)
    summaries = read_summaries(settings, finished)
    champion = summaries.champion
    version, seen = (champion.version, champion.seen_through) if champion else (None, None)
    with engine.connect() as conn:
        stocks = indexed_stocks(conn)
        sections = [stock_section(stock, index_history(conn, stock.code, backtest=finished.name if finished else None,
                                                       champion=version, seen_through=seen),
                                  latest_day_posts(conn, stock.code, version))
                    for stock in stocks if ticker in (None, stock.code)]
    return page_html(head_html(summaries), stocks, sections)


# -- the head: champion and backtest ------------------------------------------------------------------


def verdict_html(champion: Champion) -> str:
    """Whether the champion's test metrics show skill, in words (the one place that says it)."""
    if champion.shows_skill:
        return "<b>evidence of skill</b>"
    if not champion.has_verdict:
        n = champion.metrics.get("test_n_sessions", 0)
        return (f'<b class="warn">too few sessions for a verdict (n = {n:.0f})</b>: a verdict needs at least '
                f"{MIN_SESSIONS_FOR_VERDICT} test sessions")
    return ('<b class="warn">no evidence of skill</b>: balanced accuracy is not above 0.5 at p < 0.05 '
            "(sign-flip test over sessions), so the index is not a signal yet")


def _interval(metrics: dict[str, float], name: str) -> str:
    value = metrics.get(f"test_{name}")
    if value is None:
        return "-"
    low, high = metrics.get(f"test_{name}_ci_low"), metrics.get(f"test_{name}_ci_high")
    return f"{value:.3f} [{low:.3f}, {high:.3f}]" if low is not None and high is not None else f"{value:.3f}"


def champion_metrics_html(champion: Champion) -> str:
    """Its test metrics with their session-clustered intervals, how much stands behind them, and the verdict."""
    m = champion.metrics
    ic = (f" · IC {m['test_ic']:.3f} (t {m.get('test_ic_t', float('nan')):.2f})" if "test_ic" in m else
          f" · timing correlation {m['test_timing_corr']:.3f}" if "test_timing_corr" in m else "")
    return (f"balanced accuracy {_interval(m, 'balanced_accuracy')} · accuracy {_interval(m, 'accuracy')}{ic} "
            f"on {m.get('test_n_sessions', 0):.0f} test sessions ({m.get('test_n_clusters', 0):.0f} "
            f"(stock, session) clusters, {m.get('test_n_posts', 0):.0f} posts; 95% intervals resample "
            f"sessions) — {verdict_html(champion)}")


def backtest_metrics_html(backtest: Backtest) -> str:
    m, nan = backtest.metrics, float("nan")
    low, high = m.get("oos_balanced_accuracy_ci_low", nan), m.get("oos_balanced_accuracy_ci_high", nan)
    n = m.get("n_sessions", 0)
    signal = (f"IC {m.get('ic_mean', nan):.3f} (t {m.get('ic_t', nan):.2f}" if m.get("ic_per_date") else
              f"timing correlation {m.get('timing_corr', nan):.3f} (t {m.get('timing_corr_t', nan):.2f}")
    accuracy = (f"[{low:.3f}, {high:.3f}] on {n:.0f} sessions" if n >= MIN_SESSIONS_FOR_VERDICT else
                f'on {n:.0f} sessions: <b class="warn">too few sessions for a verdict (n = {n:.0f})</b>')
    return (f"backtest <b>{escape(backtest.name)}</b>: {signal}, {m.get('ic_sessions', 0):.0f} sessions) · "
            f"out-of-sample balanced accuracy {m.get('oos_balanced_accuracy', nan):.3f} {accuracy} "
            "· long-short Sharpe "
            f"{m.get('long_short_sharpe', nan):.2f} before cost, "
            f"{m.get('long_short_sharpe_net', nan):.2f} after")


def head_html(summaries: Summaries) -> str:
    champion, backtest = summaries.champion, summaries.backtest
    if champion:
        head = (f'<p>champion: <b>finsent-updown v{champion.version}</b> — {champion_metrics_html(champion)} — '
                f'<a href="{escape(champion.link)}" target="_blank" rel="noopener">open in MLflow</a></p>')
    elif summaries.registry_error:
        head = f"<p>the MLflow registry did not answer: {escape(summaries.registry_error)}</p>"
    else:
        reason = summaries.no_champion_reason
        head = ("<p>no champion yet: " + (f"{escape(reason)}" if reason else "run the <code>finsent_train</code> DAG")
                + ". A first champion must show skill: balanced accuracy above 0.5, clustered by session.</p>")
    if backtest:
        head += (f"<p>{backtest_metrics_html(backtest)} — "
                 f'<a href="{escape(backtest.link)}" target="_blank" rel="noopener">report in MLflow</a></p>')
    return head


# -- one stock ----------------------------------------------------------------------------------------


def stock_section(stock: Stock, history: Sequence[IndexPoint], posts: Sequence[ScoredPost]) -> str:
    """Its latest index value, the chart, where the index comes from, and the day's extreme posts
    (``posts``: most bullish first)."""
    last = history[-1] if history else None
    bullish, bearish = posts[:_TOP], list(posts[::-1][:_TOP])
    return (f'<section><h2>{escape(stock.code)} {escape(stock.name)}</h2>'
            + (f'<p>latest session {last.session_date}: mean P(up) <b>{last.mean_p_up:.3f}</b></p>' if last else "")
            + svg_chart(history) + sources_html(history)
            + '<div class=cols><div><h3>most bullish (last day)</h3>'
            f'<ol>{posts_html(bullish) or "<li>-</li>"}</ol></div>'
            '<div><h3>most bearish (last day)</h3>'
            f'<ol>{posts_html(bearish) or "<li>-</li>"}</ol></div></div></section>')


def posts_html(posts: Sequence[ScoredPost]) -> str:
    return "".join(f"<li><span class=p>{p.p_up:.2f}</span> <bdi>{escape(display_title(p.title))}</bdi> "
                   f"<span class=muted>{p.posted_at.astimezone(KST):%m-%d %H:%M} KST</span></li>" for p in posts)


def sources_html(history: Sequence[IndexPoint]) -> str:
    """Which model each stretch of the index comes from: every point is out of sample."""
    spans = []
    for source in ("backtest", "champion"):
        days = [p.session_date for p in history if p.source == source]
        if days:
            spans.append(f"{source} scores {days[0]} .. {days[-1]}")
    return ('<p class="muted">out of sample only: each session&#x27;s index comes from a model trained before it ('
            + ("; ".join(spans) or "no such sessions yet") + ")</p>")


_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                                          "\u2066\u2067\u2068\u2069"))
_TITLE_MAX = 80


def display_title(title: str, limit: int = _TITLE_MAX) -> str:
    """A title as shown: bidi controls (which can reverse what follows) removed, cut at ``limit``
    characters with an ellipsis. Escaping is the caller's job."""
    clean = " ".join(title.translate(_BIDI_CONTROLS).split())
    return clean if len(clean) <= limit else clean[: limit - 1].rstrip() + "…"


def _ticks(low: float, high: float, count: int = 3) -> list[float]:
    return [low + (high - low) * i / (count - 1) for i in range(count)]


def svg_chart(history: Sequence[IndexPoint], width: int = 760, height: int = 200) -> str:
    """mean P(up) (blue, left axis on its own range) and close (red, right axis) as two polylines."""
    rows = [(p.session_date, p.mean_p_up, p.close) for p in history]
    if len(rows) < 2:
        return '<p class="muted">not enough sessions yet</p>'
    left, right, top, bottom = 56, 70, 22, 26
    plot_h = height - top - bottom
    n = len(rows)
    x = [left + i * (width - left - right) / (n - 1) for i in range(n)]
    values = [r[1] for r in rows]
    low, high = min(values), max(values)
    margin = max((high - low) * 0.1, 0.005)
    low, high = max(0.0, low - margin), min(1.0, high + margin)
    y_index = lambda v: top + (high - v) / ((high - low) or 1.0) * plot_h
    sentiment = " ".join(f"{xi:.1f},{y_index(v):.1f}" for xi, v in zip(x, values))
    axes = [f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#2563eb"/>',
            f'<text x="{left - 6}" y="{top - 8}" fill="#2563eb">mean P(up)</text>']
    for tick in _ticks(low, high):
        axes.append(f'<text x="{left - 4}" y="{y_index(tick) + 4:.1f}" text-anchor="end" fill="#2563eb">'
                    f'{tick:.3f}</text>')
    if low < 0.5 < high:
        axes.append(f'<line x1="{left}" x2="{width - right}" y1="{y_index(0.5):.1f}" y2="{y_index(0.5):.1f}" '
                    'stroke="#93c5fd" stroke-dasharray="4"/>')
    closes = [r[2] for r in rows if r[2] is not None]
    price = ""
    if len(closes) >= 2:
        c_low, c_high = min(closes), max(closes)
        span = (c_high - c_low) or 1.0
        y_close = lambda c: top + (c_high - c) / span * plot_h
        points = [f"{xi:.1f},{y_close(r[2]):.1f}" for xi, r in zip(x, rows) if r[2] is not None]
        price = (f'<polyline fill="none" stroke="#dc2626" stroke-width="1.2" points="{" ".join(points)}"/>'
                 f'<line x1="{width - right}" x2="{width - right}" y1="{top}" y2="{top + plot_h}" stroke="#dc2626"/>'
                 f'<text x="{width - right + 6}" y="{top - 8}" fill="#dc2626">close</text>'
                 + "".join(f'<text x="{width - right + 4}" y="{y_close(t) + 4:.1f}" fill="#dc2626">{t:,.0f}</text>'
                           for t in _ticks(c_low, c_high)))
    return (f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="sentiment index and close">'
            + "".join(axes) + price
            + f'<polyline fill="none" stroke="#2563eb" stroke-width="1.8" points="{sentiment}"/>'
            f'<text x="{left}" y="{height - 8}" fill="#666">{rows[0][0]}</text>'
            f'<text x="{width - right}" y="{height - 8}" text-anchor="end" fill="#666">{rows[-1][0]}</text></svg>')


# -- the page -----------------------------------------------------------------------------------------


def page_html(head: str, stocks: Sequence[Stock], sections: Sequence[str]) -> str:
    nav = " ".join(f'<a href="?ticker={escape(s.code)}">{escape(s.code)}</a>' for s in stocks)
    body = "".join(sections) or "<p>no sentiment index yet: run <code>finsent_score</code> after a champion exists</p>"
    return f"""<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>finsent · Sentiment</title>
<style>body{{font-family:system-ui,'Noto Sans CJK KR',sans-serif;margin:1.5rem;color:#111}}
section{{border-top:1px solid #ddd;padding-top:.5rem;margin-top:1rem}} .cols{{display:flex;gap:2rem}}
.cols>div{{flex:1}} .muted{{color:#777;font-size:.85em}} .p{{font-family:monospace;color:#2563eb}}
.warn{{color:#b45309}} ol{{padding-left:1.2rem}} li{{margin:.15rem 0}} svg text{{font-size:12px}}</style></head><body>
<h1>Sentiment</h1>{head}<p>stocks: <a href="?">all</a> {nav}</p>{body}</body></html>"""
