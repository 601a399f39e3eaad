"""PNG plots for evaluation reports and the UI (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from finsent.specs import DEFAULT_COST_BPS, DEFAULT_SELL_TAX_BPS


def headless_pyplot():
    """matplotlib's pyplot drawing to files only (the Agg backend: no display on servers and workers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_plot(y: np.ndarray, p: np.ndarray, path: Path) -> Path:
    plt = headless_pyplot()
    pred = (p > 0.5).astype(int)
    matrix = np.array([[np.sum((y == t) & (pred == q)) for q in (1, 0)] for t in (1, 0)])
    fig, ax = plt.subplots(figsize=(4, 3.5))
    ax.imshow(matrix, cmap="Blues")
    for i in range(2):
        for j in range(2):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center")
    ax.set_xticks([0, 1], ["pred up", "pred down"])
    ax.set_yticks([0, 1], ["true up", "true down"])
    ax.set_title("confusion matrix (test)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def calibration_plot(y: np.ndarray, p: np.ndarray, path: Path, bins: int = 10) -> Path:
    plt = headless_pyplot()
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    centres = [p[which == b].mean() for b in range(bins) if np.any(which == b)]
    observed = [y[which == b].mean() for b in range(bins) if np.any(which == b)]
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.plot(centres, observed, "o-", label="model")
    ax.set_xlabel("predicted P(up)")
    ax.set_ylabel("observed share up")
    from finsent.ml.metrics import expected_calibration_error

    ax.set_title(f"reliability diagram (test), ECE {expected_calibration_error(y, p):.3f}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def index_plot(frame: pd.DataFrame, path: Path) -> Path:
    """Per ticker (up to 4): daily mean P(up) against the cumulative session return."""
    plt = headless_pyplot()
    tickers = list(frame.groupby("ticker").size().sort_values(ascending=False).index[:4])
    fig, axes = plt.subplots(len(tickers) or 1, 1, figsize=(7, 2.4 * max(1, len(tickers))), squeeze=False)
    for ax, ticker in zip(axes[:, 0], tickers):
        daily = (frame[frame["ticker"] == ticker].groupby("session_date")
                 .agg(mean_p_up=("p_up", "mean"), ret=("ret", "first")).sort_index())
        ax.plot(daily.index, daily["mean_p_up"], color="tab:blue", label="mean P(up)")
        ax.set_ylabel("mean P(up)")
        twin = ax.twinx()
        twin.plot(daily.index, (1 + daily["ret"]).cumprod(), color="tab:red", label="price (cumulative)")
        twin.set_ylabel("price index")
        ax.set_title(f"{ticker}: sentiment index vs price")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def backtest_plots(report, directory: Path) -> list[Path]:
    """A backtest report's (``finsent.ml.backtest.report.BacktestReport``) IC over time and its
    cumulative long-short, named with the report's ``plot_prefix``."""
    plt = headless_pyplot()
    paths = []
    fig, ax = plt.subplots(figsize=(8, 3))
    series = report.ic_series
    if len(series):
        ax.bar(pd.to_datetime(series["session_date"]), series["ic"], color="tab:blue", alpha=0.4, width=1.5,
               label="IC" if report.metrics.get("ic_per_date") else "timing correlation")
        ax.plot(pd.to_datetime(series["session_date"]), series["ic"].rolling(20, min_periods=1).mean(),
                color="tab:blue", label="20-session mean")
    ax.axhline(0, color="grey", linewidth=0.8)
    m = report.metrics
    ax.set_title(f"information coefficient over time (mean {m.get('ic_mean', float('nan')):.3f}, "
                 f"t {m.get('ic_t', float('nan')):.2f})" if m.get("ic_per_date") else
                 f"timing correlation, 20-session rolling (fewer than 3 stocks; overall "
                 f"{m.get('timing_corr', float('nan')):.3f})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    paths.append(directory / f"{report.plot_prefix}ic_over_time.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 3))
    if len(report.book):
        when = pd.to_datetime(report.book["session_date"])
        ax.plot(when, (1 + report.book["gross"]).cumprod(), label="before cost")
        ax.plot(when, (1 + report.book["net"]).cumprod(), label=f"after "
                f"{report.spec.get('cost_bps', DEFAULT_COST_BPS):g} bps a side "
                f"+ {report.spec.get('sell_tax_bps', DEFAULT_SELL_TAX_BPS):g} bps tax on sales")
    ax.axhline(1, color="grey", linewidth=0.8)
    ax.set_title("long top third / short bottom third by the index, open to close")
    ax.legend(loc="upper left")
    fig.tight_layout()
    paths.append(directory / f"{report.plot_prefix}long_short_cumulative.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def ic_by_source_plot(ic_dates: pd.DataFrame, path: Path) -> Path:
    """The IC of the board's index, the news index and their combination on the sessions both cover
    (``finsent.ml.backtest.compare``): each session's IC faint, its 20-session rolling mean bold."""
    plt = headless_pyplot()
    fig, ax = plt.subplots(figsize=(8, 3))
    when = pd.to_datetime(ic_dates["session_date"])
    for name, colour in (("board", "tab:blue"), ("news", "tab:orange"), ("combined", "tab:green")):
        values = ic_dates[name].astype(float)
        if name != "combined":
            ax.plot(when, values, color=colour, alpha=0.25, linewidth=0.8)
        ax.plot(when, values.rolling(20, min_periods=1).mean(), color=colour,
                label=f"{name} (mean {values.mean():.3f})" if len(values) else name)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_title(f"IC per session on the {len(ic_dates)} sessions both indexes cover (20-session means)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
