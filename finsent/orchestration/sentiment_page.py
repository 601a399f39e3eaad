"""The "Sentiment" page shown inside the Airflow UI: server-side HTML, no scripts.

Per stock: the daily sentiment index (mean P(up) of the posts before each session) against the
close over the last year, as an inline SVG; the most bullish and bearish posts of the latest
day; the champion's version and test metrics with a link to MLflow. Titles are hostile input:
every value is HTML-escaped, and the page is served with a Content-Security-Policy that allows no
script at all.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.errors import FinsentError
from finsent.ingest.records import KST
from finsent.ml.evaluate import SKILL_P_VALUE
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"
_DAYS = 365
_TOP = 5


@dataclass
class Champion:
    version: int
    metrics: dict[str, float]  # the test_* metrics of the run that registered it
    link: str
    seen_through: date | None = None  # the last session it trained or validated on (its tag)

    @property
    def has_verdict(self) -> bool:
        return self.metrics.get("test_n_sessions", 0) >= MIN_SESSIONS_FOR_VERDICT

    @property
    def shows_skill(self) -> bool:
        """The evaluation's rule: enough test sessions and balanced accuracy above 0.5 at p < 0.05."""
        return self.has_verdict and self.metrics.get("test_p_value_balanced_accuracy", 1.0) < SKILL_P_VALUE

    def summary_html(self) -> str:
        m = self.metrics

        def interval(name: str) -> str:
            value = m.get(f"test_{name}")
            if value is None:
                return "-"
            low, high = m.get(f"test_{name}_ci_low"), m.get(f"test_{name}_ci_high")
            return f"{value:.3f} [{low:.3f}, {high:.3f}]" if low is not None and high is not None else f"{value:.3f}"

        n = m.get("test_n_sessions", 0)
        verdict = ("<b>evidence of skill</b>" if self.shows_skill else
                   f'<b class="warn">too few sessions for a verdict (n = {n:.0f})</b>: a verdict needs at least '
                   f"{MIN_SESSIONS_FOR_VERDICT} test sessions" if not self.has_verdict else
                   '<b class="warn">no evidence of skill</b>: balanced accuracy is not above 0.5 at p < 0.05 '
                   "(sign-flip test over sessions), so the index is not a signal yet")
        ic = (f" · IC {m['test_ic']:.3f} (t {m.get('test_ic_t', float('nan')):.2f})" if "test_ic" in m else
              f" · timing correlation {m['test_timing_corr']:.3f}" if "test_timing_corr" in m else "")
        return (f"balanced accuracy {interval('balanced_accuracy')} · accuracy {interval('accuracy')}{ic} "
                f"on {m.get('test_n_sessions', 0):.0f} test sessions ({m.get('test_n_clusters', 0):.0f} "
                f"(stock, session) clusters, {m.get('test_n_posts', 0):.0f} posts; 95% intervals resample "
                f"sessions) — {verdict}")


def champion_summary(settings: Settings) -> Champion | None:
    from finsent.ml.registry import MODEL_NAME, alias_version, configure

    client = configure(settings)
    number = alias_version(client, "champion")
    if number is None:  # no champion yet: the page says so
        return None
    version = client.get_model_version(MODEL_NAME, str(number))
    metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
    seen = version.tags.get("seen_through")
    return Champion(int(version.version), {k: v for k, v in metrics.items() if k.startswith("test_")},
                    f"{settings.mlflow_ui_url}/#/models/{MODEL_NAME}/versions/{version.version}",
                    date.fromisoformat(seen) if seen else None)


@dataclass
class Backtest:
    """The newest finished walk-forward backtest: its out-of-sample index and headline numbers."""

    name: str
    metrics: dict[str, float]
    link: str

    def summary_html(self) -> str:
        m = self.metrics
        low, high = m.get("oos_balanced_accuracy_ci_low", float("nan")), m.get("oos_balanced_accuracy_ci_high",
                                                                               float("nan"))
        n = m.get("n_sessions", 0)
        signal = (f"IC {m.get('ic_mean', float('nan')):.3f} (t {m.get('ic_t', float('nan')):.2f}"
                  if m.get("ic_per_date") else f"timing correlation {m.get('timing_corr', float('nan')):.3f} "
                       f"(t {m.get('timing_corr_t', float('nan')):.2f}")
        accuracy = (f"[{low:.3f}, {high:.3f}] on {n:.0f} sessions" if n >= MIN_SESSIONS_FOR_VERDICT else
                    f'on {n:.0f} sessions: <b class="warn">too few sessions for a verdict (n = {n:.0f})</b>')
        return (f"backtest <b>{html.escape(self.name)}</b>: {signal}, {m.get('ic_sessions', 0):.0f} sessions) · "
                f"out-of-sample balanced accuracy {m.get('oos_balanced_accuracy', float('nan')):.3f} {accuracy} "
                "· long-short Sharpe "
                f"{m.get('long_short_sharpe', float('nan')):.2f} before cost, "
                f"{m.get('long_short_sharpe_net', float('nan')):.2f} after")


def backtest_summary(engine: Engine, settings: Settings) -> Backtest | None:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT name, mlflow_run_id FROM backtests WHERE status = 'done' "
                                "ORDER BY finished_at DESC LIMIT 1")).first()
    if row is None:
        return None
    from finsent.ml.registry import configure

    client = configure(settings)
    run = client.get_run(row.mlflow_run_id) if row.mlflow_run_id else None
    link = (f"{settings.mlflow_ui_url}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}" if run else "")
    return Backtest(row.name, dict(run.data.metrics) if run else {}, link)


# The index as it was known: a backtest's out-of-sample scores where it ran, then the champion's
# scores, but only for sessions after the last one it trained or validated on.
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


def _svg_chart(rows: list[tuple[date, float, float | None]], width: int = 760, height: int = 200) -> str:
    """mean P(up) (blue, left axis on its own range) and close (red, right axis) as two polylines."""
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


def _sources(rows) -> str:
    """Which model each stretch of the index comes from: every point is out of sample."""
    spans = []
    for source in ("backtest", "champion"):
        days = [r.session_date for r in rows if r.source == source]
        if days:
            spans.append(f"{source} scores {days[0]} .. {days[-1]}")
    return ('<p class="muted">out of sample only: each session&#x27;s index comes from a model trained before it ('
            + ("; ".join(spans) or "no such sessions yet") + ")</p>")


def render_sentiment_page(engine: Engine, settings: Settings, ticker: str | None = None) -> str:
    e = html.escape
    try:
        champion, registry_error = champion_summary(settings), None
    except FinsentError as exc:  # the page still shows the data; it says why there is no champion line
        champion, registry_error = None, str(exc)
    backtest = backtest_summary(engine, settings)
    with engine.connect() as conn:
        tickers = [(r.code, r.name) for r in conn.execute(text(
            "SELECT code, name FROM tickers WHERE code IN (SELECT ticker FROM daily_sentiment UNION "
            "SELECT ticker FROM backtest_daily) ORDER BY code"))]
        selected = [t for t in tickers if ticker in (None, t[0])]
        sections = []
        for code, name in selected:
            history = conn.execute(text(_HISTORY), {
                "t": code, "b": backtest.name if backtest else "", "v": champion.version if champion else -1,
                # a champion that does not say what it trained on shows no history: none of it is known out of sample
                "seen": (champion.seen_through if champion and champion.seen_through else date(9999, 1, 1))}).all()
            rows = [r for r in history if (history[-1].session_date - r.session_date).days <= _DAYS]
            latest = conn.execute(text(
                "SELECT p.title, s.p_up, p.posted_at FROM post_scores s JOIN posts p USING (ticker, post_id) "
                "WHERE s.ticker = :t AND s.model_version = :v AND p.posted_at >= "
                "(SELECT max(p2.posted_at) FROM posts p2 WHERE p2.ticker = :t) - interval '1 day' "
                "ORDER BY s.p_up DESC, p.post_id"), {"t": code, "v": champion.version if champion else -1}).all()
            bullish, bearish = latest[:_TOP], latest[::-1][:_TOP]

            def items(posts) -> str:
                return "".join(f"<li><span class=p>{p_up:.2f}</span> <bdi>{e(display_title(title))}</bdi> "
                               f"<span class=muted>{posted_at.astimezone(KST):%m-%d %H:%M} KST</span></li>"
                               for title, p_up, posted_at in posts)

            last = rows[-1] if rows else None
            sections.append(
                f'<section><h2>{e(code)} {e(name)}</h2>'
                + (f'<p>latest session {last[0]}: mean P(up) <b>{last[1]:.3f}</b></p>' if last else "")
                + _svg_chart([(r[0], float(r[1]), r[2]) for r in rows]) + _sources(rows)
                + '<div class=cols><div><h3>most bullish (last day)</h3>'
                f'<ol>{items(bullish) or "<li>-</li>"}</ol></div>'
                f'<div><h3>most bearish (last day)</h3><ol>{items(bearish) or "<li>-</li>"}</ol></div></div></section>')
    if champion:
        head = (f'<p>champion: <b>finsent-updown v{champion.version}</b> — {champion.summary_html()} — '
                f'<a href="{e(champion.link)}" target="_blank" rel="noopener">open in MLflow</a></p>')
    elif registry_error:
        head = f"<p>the MLflow registry did not answer: {e(registry_error)}</p>"
    else:
        from finsent.ml.registry import configure, latest_decision

        reason = latest_decision(configure(settings))
        head = ("<p>no champion yet: " + (f"{e(reason)}" if reason else "run the <code>finsent_train</code> DAG")
                + ". A first champion must show skill: balanced accuracy above 0.5, clustered by session.</p>")
    if backtest:
        head += (f"<p>{backtest.summary_html()} — "
                 f'<a href="{e(backtest.link)}" target="_blank" rel="noopener">report in MLflow</a></p>')
    nav = " ".join(f'<a href="?ticker={e(c)}">{e(c)}</a>' for c, _ in tickers)
    body = "".join(sections) or "<p>no sentiment index yet: run <code>finsent_score</code> after a champion exists</p>"
    return f"""<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>finsent · Sentiment</title>
<style>body{{font-family:system-ui,'Noto Sans CJK KR',sans-serif;margin:1.5rem;color:#111}}
section{{border-top:1px solid #ddd;padding-top:.5rem;margin-top:1rem}} .cols{{display:flex;gap:2rem}}
.cols>div{{flex:1}} .muted{{color:#777;font-size:.85em}} .p{{font-family:monospace;color:#2563eb}}
.warn{{color:#b45309}} ol{{padding-left:1.2rem}} li{{margin:.15rem 0}} svg text{{font-size:12px}}</style></head><body>
<h1>Sentiment</h1>{head}<p>stocks: <a href="?">all</a> {nav}</p>{body}</body></html>"""
