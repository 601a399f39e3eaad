"""What the Sentiment page says about what it shows: a banner while the data are synthetic (the
demo's mark, ``finsent.data.origin``) and the links to take the numbers away (the JSON API's files,
``finsent.web.api``)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from finsent.data.origin import SyntheticMark
from finsent.ingest.records import KST


def synthetic_banner(marks: Sequence[SyntheticMark]) -> str:
    """A banner over everything while the data are synthetic (the demo marks them)."""
    if not marks:
        return ""
    what = "; ".join(f"{escape(m.description)} (marked by {escape(m.source)}, "
                     f"{m.marked_at.astimezone(KST):%Y-%m-%d %H:%M} KST)" for m in marks)
    return (f'<p class="banner"><b>Synthetic data</b>: {what}. Every number on this page measures that planted '
            "signal, not a market: a high Sharpe here says the pipeline finds a signal that was put there.</p>")


def downloads_html(source: str, ticker: str | None, version: int | None, backtest: str | None) -> str:
    """Links to the JSON API's files (``finsent.web.api``): what ``finsent export`` writes, filtered to
    the page's view (its source, its stock, the champion's version)."""
    keep = f"&amp;ticker={escape(ticker)}" if ticker else ""

    def links(path: str, query: str) -> str:
        return " ".join(f'<a href="api/{path}?{query}{keep}&amp;format={fmt}">{name}</a>'
                        for fmt, name in (("csv", "CSV"), ("parquet", "Parquet"), ("json", "JSON")))

    model = f"&amp;model_version={version}" if version is not None else ""
    parts = [f"<code>daily_sentiment</code>{' of v' + str(version) if version is not None else ''}: "
             + links("daily-sentiment", f"source={source}{model}"),
             "scores: " + links("scores", f"source={source}{model}")]
    if backtest:
        parts.append(f"backtest {escape(backtest)}: " + links("backtests", f"source={source}&amp;backtest="
                                                               f"{escape(backtest)}"))
    return ('<p class="muted downloads">download · ' + " · ".join(parts)
            + ' · <a href="api/openapi.json">JSON API</a> (<code>finsent export</code> writes the same files)</p>')
