"""PNG plots for evaluation reports and the UI (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


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
