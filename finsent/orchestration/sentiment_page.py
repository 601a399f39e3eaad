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

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"
_DAYS = 365
_TOP = 5


@dataclass
class Champion:
    version: int
    metrics: dict[str, float]
    link: str


def champion_summary(settings: Settings) -> Champion | None:
    from finsent.ml.registry import MODEL_NAME, alias_version, configure

    client = configure(settings)
    number = alias_version(client, "champion")
    if number is None:  # no champion yet: the page says so
        return None
    version = client.get_model_version(MODEL_NAME, str(number))
    metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
    keep = ("test_accuracy", "test_balanced_accuracy", "test_mcc", "test_roc_auc", "test_p_value_vs_half", "test_ic")
    keep += tuple(f"{k}_ci_{side}" for k in keep for side in ("low", "high"))
    return Champion(int(version.version), {k: metrics[k] for k in keep if k in metrics},
                    f"{settings.mlflow_ui_url}/#/models/{MODEL_NAME}/versions/{version.version}")


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


def _metric(metrics: dict[str, float], key: str) -> str:
    """``accuracy 0.612 [0.571, 0.650]``: a test metric with its 95% interval when logged."""
    low, high = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
    interval = f" [{low:.3g}, {high:.3g}]" if low is not None and high is not None else ""
    return f"{key.removeprefix('test_')} {metrics[key]:.3g}{interval}"


def render_sentiment_page(engine: Engine, settings: Settings, ticker: str | None = None) -> str:
    e = html.escape
    try:
        champion, registry_error = champion_summary(settings), None
    except FinsentError as exc:  # the page still shows the data; it says why there is no champion line
        champion, registry_error = None, str(exc)
    with engine.connect() as conn:
        tickers = [(r.code, r.name) for r in conn.execute(text(
            "SELECT code, name FROM tickers WHERE code IN (SELECT DISTINCT ticker FROM daily_sentiment) "
            "ORDER BY code"))]
        selected = [t for t in tickers if ticker in (None, t[0])]
        sections = []
        for code, name in selected:
            rows = conn.execute(text(
                "SELECT d.session_date, d.mean_p_up, p.close::float8 FROM daily_sentiment d "
                "LEFT JOIN prices p ON p.ticker = d.ticker AND p.trade_date = d.session_date "
                "WHERE d.ticker = :t AND d.model_version = :v AND d.session_date >= "
                "(SELECT max(session_date) FROM daily_sentiment WHERE ticker = :t) - :days ORDER BY d.session_date"),
                {"t": code, "v": champion.version if champion else -1, "days": _DAYS}).all()
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
                + _svg_chart([(r[0], float(r[1]), r[2]) for r in rows])
                + '<div class=cols><div><h3>most bullish (last day)</h3>'
                f'<ol>{items(bullish) or "<li>-</li>"}</ol></div>'
                f'<div><h3>most bearish (last day)</h3><ol>{items(bearish) or "<li>-</li>"}</ol></div></div></section>')
    if champion:
        metrics = " · ".join(e(_metric(champion.metrics, k)) for k in champion.metrics if "_ci_" not in k)
        head = (f'<p>champion: <b>finsent-updown v{champion.version}</b> — {metrics} — '
                f'<a href="{e(champion.link)}" target="_blank" rel="noopener">open in MLflow</a></p>')
    elif registry_error:
        head = f"<p>the MLflow registry did not answer: {e(registry_error)}</p>"
    else:
        head = "<p>no champion yet: run the <code>finsent_train</code> DAG</p>"
    nav = " ".join(f'<a href="?ticker={e(c)}">{e(c)}</a>' for c, _ in tickers)
    body = "".join(sections) or "<p>no sentiment index yet: run <code>finsent_score</code> after a champion exists</p>"
    return f"""<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>finsent · Sentiment</title>
<style>body{{font-family:system-ui,'Noto Sans CJK KR',sans-serif;margin:1.5rem;color:#111}}
section{{border-top:1px solid #ddd;padding-top:.5rem;margin-top:1rem}} .cols{{display:flex;gap:2rem}}
.cols>div{{flex:1}} .muted{{color:#777;font-size:.85em}} .p{{font-family:monospace;color:#2563eb}}
ol{{padding-left:1.2rem}} li{{margin:.15rem 0}} svg text{{font-size:12px}}</style></head><body>
<h1>Sentiment</h1>{head}<p>stocks: <a href="?">all</a> {nav}</p>{body}</body></html>"""
