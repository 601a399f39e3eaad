"""The Sentiment page's study view: the newest factor study (``finsent study``), where its signals
show across targets and horizons (each cell's IC with its interval, n and verdict) and what its
books would have earned after Korean costs. Read from ``studies``; nothing is computed here."""

from __future__ import annotations

from html import escape
from typing import Any

from sqlalchemy.engine import Connection

from finsent.specs import DEFAULT_COST_BPS

_VERDICT_CLASS = {"signal": "p", "no signal": "muted", "too few sessions": "warn"}


def latest_study(conn: Connection) -> dict[str, Any] | None:
    """The newest study's report (its ``--json`` object), or None."""
    found = conn.exec_driver_sql("SELECT report FROM studies ORDER BY created_at DESC, name LIMIT 1").first()
    return found[0] if found else None


def _number(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def study_html(study: dict[str, Any] | None) -> str:
    if not study:
        return ('<h2>Where the signal shows</h2><p class="muted">no study yet: <code>finsent study NAME --backtest '
                "BACKTEST</code> (the weekly finsent_backtest run refreshes the study <code>champion</code>)</p>")
    rows = "".join(
        f"<tr><td>{escape(c['signal'])}</td><td>{escape(c['target'])}</td><td class=\"num\">{c['horizon']}</td>"
        f"<td class=\"num\">{_number(c['ic'])} [{_number(c['ic_low'])}, {_number(c['ic_high'])}]</td>"
        f"<td class=\"num\">{c['sessions']} ({c.get('blocks', '–')})</td><td class=\"num\">"
        f"{_number(c['p_adjusted'])}</td><td class=\"{_VERDICT_CLASS[c['verdict']]}\">{escape(c['verdict'])}</td></tr>"
        for c in study["grid"])
    books = "".join(
        f"<tr><td>{escape(b['signal'])}</td><td class=\"num\">{b['hold']}</td><td>{escape(b['kind'])}</td>"
        f"<td class=\"num\">{_number(b['net_sharpe'], 2)} [{_number(b['net_sharpe_low'], 2)}, "
        f"{_number(b['net_sharpe_high'], 2)}]</td><td class=\"num\">{_number(b['turnover'], 2)}</td>"
        f"<td class=\"num\">{_number(b['break_even_bps'], 1)}</td><td class=\"num\">{b['sessions']}</td></tr>"
        for b in study["books"])
    counts, costs = study.get("counts", {}), study.get("costs", {})
    return (f"<h2>Where the signal shows: study <b>{escape(study['study'])}</b> of backtest "
            f"<b>{escape(study['backtest'])}</b></h2><p class=\"muted\">{counts.get('stocks', 0)} stocks, "
            f"{counts.get('dates', 0)} sessions ({escape(str(counts.get('first')))} .. "
            f"{escape(str(counts.get('last')))}). Mean rank IC with its 95% interval over blocks of h sessions "
            "(targets never overlap), p adjusted over "
            "the whole grid (Holm); <b>signal</b> only when it is below 0.05 with at least 10 blocks.</p>"
            '<table class="overview"><tr><th>signal</th><th>target</th><th>h</th><th>IC [95%]</th>'
            f"<th>sessions (blocks)</th><th>p adjusted</th><th>verdict</th></tr>{rows}</table>"
            "<p class=\"muted\">Books: rebalanced every k sessions, "
            f"{costs.get('cost_bps', DEFAULT_COST_BPS):g} bps a side plus the "
            f"{escape(str(costs.get('sell_tax', 'sell tax')))}; no short leg during the short-sale ban.</p>"
            '<table class="overview"><tr><th>signal</th><th>k</th><th>book</th><th>net Sharpe [95%]</th>'
            f"<th>turnover</th><th>break-even bps a side</th><th>sessions</th></tr>{books}</table>")


def study_summary_html(study: dict[str, Any] | None) -> str:
    """The overview's few lines of the newest study: how many cells show a signal (each named with its
    IC, interval and n), the best book after costs, and a link to the whole grid (``?view=study``)."""
    if not study:
        return study_html(study)
    grid, books = study.get("grid", []), study.get("books", [])
    verdicts = {v: sum(c["verdict"] == v for c in grid) for v in _VERDICT_CLASS}
    found = "; ".join(f"{escape(c['signal'])} → {escape(c['target'])} h{c['horizon']}: IC {_number(c['ic'])} "
                      f"[{_number(c['ic_low'])}, {_number(c['ic_high'])}], {c['sessions']} sessions"
                      for c in grid if c["verdict"] == "signal")
    ranked = [b for b in books if b.get("net_sharpe") is not None]
    best = max(ranked, key=lambda b: b["net_sharpe"], default=None)
    book = (f" Best book after costs: {escape(best['signal'])} {escape(best['kind'])} every {best['hold']} "
            f"session(s), net Sharpe {_number(best['net_sharpe'], 2)} [{_number(best['net_sharpe_low'], 2)}, "
            f"{_number(best['net_sharpe_high'], 2)}], break-even {_number(best['break_even_bps'], 1)} bps a side."
            if best else "")
    return (f"<h2>Where the signal shows: study <b>{escape(study['study'])}</b> of backtest "
            f"<b>{escape(study['backtest'])}</b></h2><p>{len(grid)} cells: {verdicts['signal']} signal, "
            f"{verdicts['no signal']} no signal, {verdicts['too few sessions']} too few sessions"
            + (f" ({found})" if found else "") + f".{book} "
            '<a href="sentiment?view=study">the whole grid and every book</a></p>')
