"""A study's plots: the IC of every cell as a heat map with its verdict, the IC by horizon (its
decay), quantile returns, the books' cumulative returns gross and net, and their turnover."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finsent.ml.plots import headless_pyplot

_MARK = {"signal": "*", "no signal": "", "too few sessions": "n/a"}


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    headless_pyplot().close(fig)
    return path


def heat_map(report: dict[str, Any], path: Path) -> Path:
    """Rows (signal, target), columns horizons: the mean IC, * where the verdict is `signal`."""
    plt = headless_pyplot()
    grid = pd.DataFrame(report["grid"])
    rows = list(dict.fromkeys(zip(grid["signal"], grid["target"])))
    horizons = sorted(grid["horizon"].unique())
    values = np.full((len(rows), len(horizons)), np.nan)
    fig, ax = plt.subplots(figsize=(2.5 + 1.2 * len(horizons), 1 + 0.4 * len(rows)))
    for _, c in grid.iterrows():
        i, j = rows.index((c["signal"], c["target"])), horizons.index(c["horizon"])
        values[i, j] = np.nan if c["ic"] is None else c["ic"]
        ic = "-" if c["ic"] is None else f"{c['ic']:.3f}"
        ax.text(j, i, f"{ic}{_MARK[c['verdict']]}\n(n={c['sessions']})", ha="center", va="center", fontsize=7)
    limit = max(0.05, float(np.nanmax(np.abs(values)))) if np.isfinite(values).any() else 0.05
    image = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(horizons)), [f"h={h}" for h in horizons])
    ax.set_yticks(range(len(rows)), [f"{s} / {t}" for s, t in rows])
    ax.set_title("mean rank IC (* signal after Holm; n/a too few sessions)")
    fig.colorbar(image, ax=ax)
    return _save(fig, path)


def ic_decay(report: dict[str, Any], path: Path) -> Path:
    plt = headless_pyplot()
    grid = pd.DataFrame(report["grid"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for (signal, target), rows in grid.groupby(["signal", "target"], sort=False):
        rows = rows.sort_values("horizon")
        ic = rows["ic"].astype(float)
        line = ax.plot(rows["horizon"], ic, "o-", label=f"{signal} / {target}")[0]
        low, high = rows["ic_low"].astype(float), rows["ic_high"].astype(float)
        ax.vlines(rows["horizon"], low, high, color=line.get_color(), alpha=0.4)
    ax.axhline(0, color="grey", linewidth=0.8)
    # the limits come from the grid's horizons, so a grid with no IC at all (too few sessions) still
    # has a positive x range to draw on a log scale
    horizons = sorted({int(h) for h in grid["horizon"]}) if len(grid) else [1]
    ax.set_xscale("log")
    ax.set_xlim(horizons[0] / 1.5, horizons[-1] * 1.5)
    ax.set_xticks(horizons, [str(h) for h in horizons])
    ax.set_xlabel("horizon (sessions)")
    ax.set_title("IC by horizon, with 95% intervals")
    ax.legend(fontsize=6, loc="best")
    return _save(fig, path)


def quantile_plot(report: dict[str, Any], path: Path) -> Path:
    plt = headless_pyplot()
    frame = pd.DataFrame(report["quantile_returns"])
    frame = frame[frame["quantile"] != "spread"] if len(frame) else frame
    keys = list(dict.fromkeys(zip(frame["signal"], frame["horizon"]))) if len(frame) else []
    fig, ax = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / max(1, len(keys))
    for k, (signal, horizon) in enumerate(keys):
        rows = frame[(frame["signal"] == signal) & (frame["horizon"] == horizon)]
        x = rows["quantile"].astype(int).to_numpy() + k * width
        ax.bar(x, rows["mean"].astype(float) * 10_000, width=width, label=f"{signal} h={horizon}")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("signal quantile (0 = lowest)")
    ax.set_ylabel("return per session (bps)")
    ax.set_title("quantile returns")
    if keys:
        ax.legend(fontsize=6, ncol=2)
    return _save(fig, path)


def book_plots(report: dict[str, Any], directory: Path) -> list[Path]:
    plt = headless_pyplot()
    dates = pd.to_datetime(report.get("dates", []))
    days = report.get("book_days", {})
    fig, ax = plt.subplots(figsize=(8, 4))
    for key, series in days.items():
        if key.endswith("long_short"):
            line = ax.plot(dates, np.cumprod(1 + np.asarray(series["gross"])), linewidth=0.8, label=f"{key} gross")[0]
            ax.plot(dates, np.cumprod(1 + np.asarray(series["net"])), linestyle="--", color=line.get_color(),
                    linewidth=0.8, label=f"{key} net")
    ax.axhline(1, color="grey", linewidth=0.8)
    ax.set_title("long-short books, cumulative, before (solid) and after (dashed) costs")
    ax.legend(fontsize=5, ncol=2)
    paths = [_save(fig, directory / "books_cumulative.png")]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    books = pd.DataFrame(report["books"])
    if len(books):
        labels = [f"{s} k={h} {k}" for s, h, k in zip(books["signal"], books["hold"], books["kind"])]
        ax.barh(labels, books["turnover"].astype(float))
    ax.set_xlabel("units traded per session")
    ax.set_title("turnover")
    ax.tick_params(axis="y", labelsize=6)
    paths.append(_save(fig, directory / "turnover.png"))
    return paths


def study_plots(report: dict[str, Any], directory: Path) -> list[Path]:
    return [heat_map(report, directory / "ic_heat_map.png"), ic_decay(report, directory / "ic_by_horizon.png"),
            quantile_plot(report, directory / "quantile_returns.png"), *book_plots(report, directory)]
