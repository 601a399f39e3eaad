"""The "Sentiment" page shown inside the Airflow UI: server-side HTML, no scripts.

At the top, one row per stock (``sentiment_overview``): the latest index, raw and as a z-score,
its change, the out-of-sample skill on that stock; the next untraded session marked as a forecast.
Then the champion and the newest backtest with their clustered intervals and the backtest's IC
over time and cumulative long-short; per stock the index with its EMA against the close, the
backtest's rolling correlation, and the most bullish and bearish posts the index uses, linked to
Naver. Charts are inline SVG (``sentiment_charts``). Titles are hostile input: every value is
HTML-escaped, and the page is served with a Content-Security-Policy that allows no script at all.

The page is parts: ``sentiment_queries`` reads Postgres (all of its SQL), ``sentiment_summaries``
reads MLflow, and this module renders what they return with small pure functions;
``render_sentiment_page`` joins them for one request. ``?source=board|news`` picks whose index
(default the board's; the news index is its own champion's, with no backtest of its own here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from sqlalchemy.engine import Connection, Engine

from finsent.config import Settings
from finsent.data.origin import synthetic_marks
from finsent.data.sources import BOARD, COMMENTS, DEFAULT_SOURCE, NEWS, text_source
from finsent.ingest.records import KST
from finsent.logs.redact import mask_urls
from finsent.ml.metrics import shown
from finsent.ml.registry import model_name
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT
from finsent.specs import DEFAULT_COST_BPS, DEFAULT_DEFINITION, DEFAULT_SELL_TAX_BPS
from finsent.web.charts import EMA_SPAN, ROLLING_SESSIONS, Line, ema, line_chart
from finsent.web.notes import downloads_html, synthetic_banner
from finsent.web.overview import (
    IndexOrigins,
    StockRow,
    backtest_charts_html,
    overview_html,
    rolling_timing,
    skill_text,
    stock_row,
    stock_skills,
)
from finsent.web.queries import (
    SOURCES,
    WALKED,
    FinishedBacktest,
    IndexPoint,
    ScoredPost,
    Stock,
    backtest_days,
    champion_skill_counts,
    daily_values,
    index_built_at,
    index_histories,
    indexed_stocks,
    label_horizon,
    latest_backtest,
    latest_day_comments,
    latest_day_news,
    latest_day_posts,
    priced_through,
    skill_counts,
)
from finsent.web.study_view import latest_study, study_html, study_summary_html
from finsent.web.summaries import Backtest, Champion, Summaries, read_summaries
from finsent.web.text import plain_text

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"
NAVER_POST_URL = "https://finance.naver.com/item/board_read.naver?code={code}&nid={nid}"
_TOP = 5
# Per source: the scored texts of a stock's last day (``stock_section``).
_LATEST_DAY = {BOARD.name: latest_day_posts, NEWS.name: latest_day_news, COMMENTS.name: latest_day_comments}


@dataclass(frozen=True)
class View:
    """What one request asks for: one stock or all, the overview's order, and whose index (``SOURCES``)."""

    ticker: str | None = None
    sort: str = "code"
    descending: bool = False
    source: str = DEFAULT_SOURCE  # whose index (finsent.data.sources): the board's (finsent-updown), the news', ...
    study: bool = False  # the newest study's whole grid and books instead (``?view=study``)


def render_sentiment_page(engine: Engine, settings: Settings, ticker: str | None = None,
                          view: View | None = None) -> str:
    """The whole page for one request: the overview of one source's index (every stock's row, the
    backtest's charts), or one stock's page (its row, charts and the day's posts or headlines)."""
    view = view or View(ticker)
    walked = view.source == WALKED  # the page shows the board's walk-forward backtest and study only
    with engine.connect() as conn:
        finished = latest_backtest(conn) if walked else None
        marks = synthetic_marks(conn)
        if view.study:
            return page_html(synthetic_banner(marks) + study_html(latest_study(conn)), [], ["<span></span>"],
                             title="Sentiment · study")
    summaries = read_summaries(settings, finished, model_name(view.source))
    champion = summaries.champion
    version = champion.version if champion else None
    origins = IndexOrigins(finished.name if finished else None,
                           f"{champion.model} v{champion.version}" if champion else None)
    with engine.connect() as conn:
        stocks, rows, histories = _stock_rows(conn, view.source, finished, champion, origins)
        listed = [r for r in rows if view.ticker in (None, r.stock.code)]  # one stock's page: its row only
        if view.ticker is None:
            sections, charts = [], (backtest_charts_html(
                backtest_days(conn, finished.name), float(finished.spec.get("cost_bps", DEFAULT_COST_BPS)),
                float(finished.spec.get("sell_tax_bps", DEFAULT_SELL_TAX_BPS)), finished.name) if finished else "")
            charts += study_summary_html(latest_study(conn)) if walked else ""
        else:
            daily = daily_values(conn, {r.stock.code: r.latest.session_date for r in listed if r.latest}, version,
                                 view.source)
            latest, item = _LATEST_DAY[view.source], text_source(view.source).noun
            sections = [stock_section(row, histories[row.stock.code], latest(conn, row.stock.code, version), item,
                                      daily=daily.get(row.stock.code), origins=origins) for row in listed]
            charts = ""
        built = index_built_at(conn, version, view.source)
    top = overview_html(listed, view.sort, view.descending, built, view.source) if listed else ""
    head = synthetic_banner(marks) + top + head_html(summaries) + charts
    if stocks:
        head += downloads_html(view.source, view.ticker, version, finished.name if finished else None)
    return page_html(head, stocks, sections, source=view.source)


def _stock_rows(conn: Connection, source: str, finished: FinishedBacktest | None, champion: Champion | None,
                origins: IndexOrigins) -> tuple[list[Stock], list[StockRow], dict[str, list[IndexPoint]]]:
    """Every indexed stock of ``source``, its overview row and its out-of-sample index history."""
    version, seen = (champion.version, champion.seen_through) if champion else (None, None)
    definition = (champion.definition if champion else None) or (finished.spec.get("definition") if finished
                                                                 else None) or DEFAULT_DEFINITION
    walk = finished.name if finished else None
    stocks, priced = indexed_stocks(conn, source), priced_through(conn)
    counts = (skill_counts(conn, backtest=walk, champion=version, seen_through=seen, definition=definition)
              if source == WALKED else
              champion_skill_counts(conn, text_source(source), champion=version, seen_through=seen,
                                    definition=definition))
    skills = stock_skills(counts, label_horizon(conn, definition))
    histories = index_histories(conn, [s.code for s in stocks], backtest=walk, champion=version,
                                seen_through=seen, source=source)
    rows = [stock_row(s, histories[s.code], skills.get(s.code), priced.get(s.code), origins) for s in stocks]
    return stocks, rows, histories


# -- the head: champion and backtest ------------------------------------------------------------------


def verdict_html(champion: Champion) -> str:
    """Whether the champion's test metrics show skill, in words (the one place that says it)."""
    if champion.shows_skill:
        return "<b>evidence of skill</b>"
    if not champion.has_verdict:
        n = champion.metrics.get("test_n_sessions", 0)
        return (f'<b class="warn">too few sessions for a verdict (n = {n:.0f})</b>: a verdict needs at least '
                f"{MIN_SESSIONS_FOR_VERDICT} test sessions (10 blocks of h with labels over h sessions)")
    return ('<b class="warn">no evidence of skill</b>: balanced accuracy is not above 0.5 at p < 0.05 '
            "(sign-flip test over sessions), so the index is not a signal yet")


def _interval(metrics: dict[str, float], name: str) -> str:
    value = metrics.get(f"test_{name}")
    if value is None:
        return "-"
    low, high = metrics.get(f"test_{name}_ci_low"), metrics.get(f"test_{name}_ci_high")
    if low is None or high is None or not math.isfinite(value):
        return shown(value)
    return f"{shown(value)} [{shown(low)}, {shown(high)}]"


def champion_metrics_html(champion: Champion) -> str:
    """Its test metrics with their session-clustered intervals, how much stands behind them, and the verdict."""
    m = champion.metrics
    return (f"balanced accuracy {_interval(m, 'balanced_accuracy')} · accuracy {_interval(m, 'accuracy')} "
            f"on {m.get('test_n_sessions', 0):.0f} test sessions ({m.get('test_n_clusters', 0):.0f} "
            f"(stock, session) clusters, {m.get('test_n_posts', 0):.0f} posts; 95% intervals resample "
            f"sessions){_ic_text(m)} — {verdict_html(champion)}")


def _ic_text(m: dict[str, float]) -> str:
    """The IC with its own session count: only dates with at least 3 stocks (and some spread) have
    one, so it stands on ``test_ic_sessions``, not on every test session."""
    n = m.get("test_ic_sessions", 0)
    if "test_ic" in m:
        t = f"t {m['test_ic_t']:.2f}, " if "test_ic_t" in m else ""
        interval = (f" [{m['test_ic_ci_low']:.3f}, {m['test_ic_ci_high']:.3f}]"
                    if "test_ic_ci_low" in m and "test_ic_ci_high" in m else "")
        return f" · IC {m['test_ic']:.3f}{interval} ({t}{n:.0f} sessions with at least 3 stocks)"
    if "test_timing_corr" in m:
        return f" · timing correlation {m['test_timing_corr']:.3f} ({n:.0f} sessions; fewer than 3 stocks: no IC)"
    return ""


def missing_run_html(run_id: str) -> str:
    """What the page says for a run its MLflow store no longer has."""
    return (f'<b class="warn">its MLflow run {escape(run_id)} is missing</b> from the tracking store (deleted and '
            "garbage-collected, or logged to another store), so its metrics cannot be shown")


def backtest_metrics_html(backtest: Backtest) -> str:
    m, nan = backtest.metrics, float("nan")
    if backtest.missing_run:
        return f"backtest <b>{escape(backtest.name)}</b>: {missing_run_html(backtest.missing_run)}"
    if not m:
        return (f"backtest <b>{escape(backtest.name)}</b>: its report is not in MLflow (rerun "
                f"<code>finsent backtest --name {escape(backtest.name)}</code> with the same options to log it)")
    low, high = m.get("oos_balanced_accuracy_ci_low", nan), m.get("oos_balanced_accuracy_ci_high", nan)
    n = m.get("n_sessions", 0)
    key = "ic" if m.get("ic_per_date") else "timing_corr"
    interval = (f" [{m[key + '_ci_low']:.3f}, {m[key + '_ci_high']:.3f}]" if key + "_ci_low" in m
                and key + "_ci_high" in m else "")
    signal = (f"IC {m.get('ic_mean', nan):.3f}{interval} (t {m.get('ic_t', nan):.2f}" if key == "ic" else
              f"timing correlation {m.get('timing_corr', nan):.3f}{interval} (t {m.get('timing_corr_t', nan):.2f}")
    verdict = "oos_balanced_accuracy_ci_low" in m or ("n_blocks" not in m and n >= MIN_SESSIONS_FOR_VERDICT)
    accuracy = (f"[{low:.3f}, {high:.3f}] on {n:.0f} sessions" if verdict else
                f'on {n:.0f} sessions: <b class="warn">too few sessions for a verdict (n = {n:.0f})</b>')
    return (f"backtest <b>{escape(backtest.name)}</b>: {signal}, {m.get('ic_sessions', 0):.0f} sessions) · "
            f"out-of-sample balanced accuracy {m.get('oos_balanced_accuracy', nan):.3f} {accuracy} "
            "· long-short Sharpe "
            f"{m.get('long_short_sharpe', nan):.2f} before cost, "
            f"{m.get('long_short_sharpe_net', nan):.2f} after")


def head_html(summaries: Summaries) -> str:
    champion, backtest = summaries.champion, summaries.backtest
    if champion:
        metrics = missing_run_html(champion.missing_run) if champion.missing_run else champion_metrics_html(champion)
        head = (f"<p>champion: <b>{escape(champion.model)} v{champion.version}</b> — {metrics} — "
                f'<a href="{escape(champion.link)}" target="_blank" rel="noopener">open in MLflow</a></p>')
    elif summaries.registry_error:
        head = f"<p>the MLflow registry did not answer: {escape(mask_urls(summaries.registry_error))}</p>"
    else:
        reason = summaries.no_champion_reason
        head = ("<p>no champion yet: " + (f"{escape(reason)}" if reason else "run the <code>finsent_train</code> DAG")
                + ". A first champion must show skill: balanced accuracy above 0.5, clustered by session.</p>")
    if backtest:
        link = (f' — <a href="{escape(backtest.link)}" target="_blank" rel="noopener">report in MLflow</a>'
                if backtest.link else "")
        head += f"<p>{backtest_metrics_html(backtest)}{link}</p>"
    return head


# -- one stock ----------------------------------------------------------------------------------------


def stock_section(row: StockRow, history: Sequence[IndexPoint], posts: Sequence[ScoredPost],
                  noun: str = "post", *, daily: float | None = None, origins: IndexOrigins | None = None) -> str:
    """Its latest index (named by the walk or model that scored it, beside the champion's
    ``daily_sentiment`` when that differs), the charts, where the index comes from, its out-of-sample
    skill and the day's extreme posts or headlines (``noun``; ``posts``: most bullish first, only those
    the index uses)."""
    stock, last = row.stock, row.latest
    bullish = [p for p in posts if p.p_up > 0.5][:_TOP]
    bearish = [p for p in posts[::-1] if p.p_up < 0.5][:_TOP]
    when = ""
    if last is not None:
        kind = "forecast for the next session (not traded yet)" if row.forecast else "latest session"
        origin = f" (out of sample, {escape(row.origin)})" if row.origin else ""
        champion = (origins.champion if origins else None) or "the champion"
        other = (f" · <code>daily_sentiment</code> of {escape(champion)} for that session: <b>{daily:.3f}</b>"
                 " (what the export and the API hold; the index shown is the walk's, scored by models trained "
                 "before the session)" if daily is not None and abs(daily - last.mean_p_up) >= 5e-4 else "")
        when = f"<p>{kind} <b>{last.session_date}</b>: mean P(up) <b>{last.mean_p_up:.3f}</b>{origin}{other}</p>"
    return (f'<section id="s{escape(stock.code)}"><h2>{escape(stock.code)} {escape(plain_text(stock.name))}</h2>'
            + when + index_chart(history) + sources_html(history, origins)
            + f"<p>out-of-sample balanced accuracy on this stock: {skill_text(row.skill)}</p>"
            + timing_chart(history)
            + '<div class=cols><div><h3>most bullish (last day, P(up) &gt; 0.5)</h3>'
            f'<ol>{posts_html(bullish) or f"<li class=muted>no {noun} with P(up) above 0.5</li>"}</ol></div>'
            '<div><h3>most bearish (last day, P(up) &lt; 0.5)</h3>'
            f'<ol>{posts_html(bearish) or f"<li class=muted>no {noun} with P(up) below 0.5</li>"}</ol></div></div>'
            "</section>")


def index_chart(history: Sequence[IndexPoint]) -> str:
    """mean P(up) per session, its EMA and the close (right axis), with the 0.5 line labelled."""
    if len(history) < 2:
        return '<p class="muted">not enough sessions yet</p>'
    values = [p.mean_p_up for p in history]
    lines = [Line("mean P(up)", values, "#93c5fd", 1.0), Line(f"EMA {EMA_SPAN}", ema(values), "#1d4ed8", 2.2)]
    return line_chart([p.session_date for p in history], lines,
                      title="sentiment index and close", reference=(0.5, "0.5 neutral"),
                      right=Line("close", [p.close for p in history], "#dc2626", 1.2))


def timing_chart(history: Sequence[IndexPoint]) -> str:
    """The backtest's rolling correlation of this stock's index with its session return, or why none."""
    walked = [p for p in history if p.ret is not None]
    if not walked:
        return ""
    if len(walked) < max(ROLLING_SESSIONS, MIN_SESSIONS_FOR_VERDICT):
        return (f'<p class="muted">backtest: {len(walked)} sessions on this stock: <b class="warn">too few '
                f"sessions for a verdict</b> (a rolling correlation needs {ROLLING_SESSIONS})</p>")
    return (f"<h3>backtest: {ROLLING_SESSIONS}-session rolling correlation of the index with the session's "
            f"return ({len(walked)} sessions)</h3>"
            + line_chart([p.session_date for p in history],
                         [Line("rolling Spearman", rolling_timing(history), "#7c3aed", 2.0)],
                         title="rolling correlation", reference=(0.0, "0"), height=160))


def post_link(post: ScoredPost) -> str:
    return post.url or NAVER_POST_URL.format(code=post.ticker, nid=post.post_id)


def posts_html(posts: Sequence[ScoredPost]) -> str:
    return "".join(f"<li><span class=p>{p.p_up:.2f}</span> "
                   f'<a href="{escape(post_link(p))}" target="_blank" rel="noopener noreferrer">'
                   f"<bdi>{escape(display_title(p.title))}</bdi></a> "
                   f"<span class=muted>{p.posted_at.astimezone(KST):%m-%d %H:%M} KST</span></li>" for p in posts)


def sources_html(history: Sequence[IndexPoint], origins: IndexOrigins | None = None) -> str:
    """Which model each stretch of the index comes from: every point is out of sample."""
    origins = origins or IndexOrigins()
    spans = []
    for source in ("backtest", "champion"):
        days = [p for p in history if p.source == source]
        if days:
            spans.append(f"{escape(origins.of(days[0]))} scores {days[0].session_date} .. {days[-1].session_date}")
    return ('<p class="muted">out of sample only: each session&#x27;s index comes from a model trained before it ('
            + ("; ".join(spans) or "no such sessions yet") + f"); EMA {EMA_SPAN}: exponential moving average, "
            f"alpha = 2 / ({EMA_SPAN} + 1)</p>")


_TITLE_MAX = 80


def display_title(title: str, limit: int = _TITLE_MAX) -> str:
    """A title as shown: bidi controls (which can reverse what follows) removed, cut at ``limit``
    characters with an ellipsis. Escaping is the caller's job."""
    clean = plain_text(title)
    return clean if len(clean) <= limit else clean[: limit - 1].rstrip() + "…"


# -- the page -----------------------------------------------------------------------------------------


FONTS = ("system-ui, 'Noto Sans CJK KR', 'Noto Sans KR', 'Apple SD Gothic Neo', 'Malgun Gothic', sans-serif, "
         "'Noto Color Emoji', 'Apple Color Emoji', 'Segoe UI Emoji'")  # Korean first, emoji where a glyph is missing
STYLE = f"""body{{font-family:{FONTS};margin:1.5rem;color:#111}}
section{{border-top:1px solid #ddd;padding-top:.5rem;margin-top:1rem}} .cols{{display:flex;gap:2rem}}
.cols>div{{flex:1;min-width:0}} .muted{{color:#777;font-size:.85em}} .p{{font-family:monospace;color:#2563eb}}
.warn{{color:#b45309}} .fc{{color:#7c3aed}} ol{{padding-left:1.2rem}} li{{margin:.15rem 0}}
svg text{{font-size:12px;font-family:{FONTS}}} a{{color:#1d4ed8}} li a{{color:#111;text-decoration:none}}
li a:hover{{text-decoration:underline}} table.overview{{border-collapse:collapse;margin:.5rem 0}}
.overview th,.overview td{{padding:.2rem .5rem;border-bottom:1px solid #e5e7eb;text-align:left}}
.overview td.num{{text-align:right;font-variant-numeric:tabular-nums}} .overview th a{{text-decoration:none}}
nav a{{margin-right:.5rem}} svg{{max-width:1000px}} .charts>div{{max-width:620px}}
.overview td{{vertical-align:middle;white-space:nowrap}} table.overview{{font-size:.9em}}
svg.spark{{max-width:none;display:block}}
.banner{{background:#fef3c7;border:1px solid #f59e0b;padding:.5rem .8rem;border-radius:4px}}"""


def source_query(source: str) -> str:
    """What a link adds to keep the page's source (nothing for the default, the board)."""
    return "" if source == DEFAULT_SOURCE else f"&amp;source={escape(source)}"


def source_nav(source: str) -> str:
    """The source filter: the board's index or the news'."""
    return " · index of: " + " ".join(f"<b>{name}</b>" if name == source else
                                      f'<a href="sentiment?source={name}">{name}</a>' for name in SOURCES)


def empty_body(source: str) -> str:
    if source != WALKED:
        text = text_source(source)
        return (f"<p>no {text.name} index yet: the {text.name} index needs a champion of <code>{text.model_name}"
                f"</code> (train one on a {text.name} snapshot: <code>finsent dataset build NAME --source "
                f"{text.name}</code>, then <code>finsent train --dataset NAME</code>) and a <code>finsent score"
                "</code> run after it</p>")
    return "<p>no sentiment index yet: run <code>finsent_score</code> after a champion exists</p>"


def page_html(head: str, stocks: Sequence[Stock], sections: Sequence[str], title: str = "Sentiment",
              source: str = DEFAULT_SOURCE) -> str:
    # one stock's page lists the others; the overview's table links every stock already
    nav = " · stocks: " + " ".join(f'<a href="sentiment?ticker={escape(s.code)}{source_query(source)}">'
                                   f"{escape(s.code)}</a>" for s in stocks) if stocks and sections else ""
    overview = f"sentiment?source={escape(source)}" if source != DEFAULT_SOURCE else "sentiment"
    links = (f'<a href="{overview}">overview</a> <a href="models">models</a> <a href="sentiment?view=study">study</a>'
             f"{source_nav(source)}{nav}")
    body = "".join(sections) or ("" if stocks else empty_body(source))
    return f"""<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>finsent · {escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{escape(title)}</h1><nav>{links}</nav>
{head}{body}</body></html>"""
