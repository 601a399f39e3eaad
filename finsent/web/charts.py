"""The Sentiment page's charts: inline SVG drawn on the server (no script, no CDN: works offline).

One chart function draws every chart of the page: sessions evenly spaced on x with several date
labels, a y axis on "nice" ticks (1, 2, 2.5 or 5 times a power of ten), reference lines (0.5 for
P(up), 0 for a correlation, 1 for a cumulative return) named in the legend, a legend above the plot
(wrapped onto a second row when it is wide: no label is ever drawn over the plot), an optional
right axis (the close), and gaps where a value is missing. ``sparkline`` draws the overview's
small index per stock. Smoothing is an exponential moving average (``ema``): span ``EMA_SPAN``
sessions, alpha = 2 / (span + 1), started at the first value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

import numpy as np

EMA_SPAN = 10  # sessions: about two weeks of trading
ROLLING_SESSIONS = 20  # the window of rolling correlations: about a month of trading
_LEFT, _RIGHT, _BOTTOM = 58, 74, 28
_LEGEND_ROW = 16  # px per legend row above the plot
_CHAR_PX = 7.2  # the width of a character of the 12 px labels (Latin digits and letters)


@dataclass(frozen=True)
class Line:
    label: str
    values: Sequence[float | None]
    colour: str
    width: float = 1.6
    dash: str = ""


def ema(values: Sequence[float], span: int = EMA_SPAN) -> list[float]:
    """The exponential moving average: s_0 = x_0, s_t = alpha x_t + (1 - alpha) s_(t-1), alpha = 2 / (span + 1)."""
    alpha, out = 2.0 / (span + 1), []
    for value in values:
        out.append(value if not out else alpha * value + (1 - alpha) * out[-1])
    return out


def nice_step(span: float, count: int = 5) -> float:
    """A step of 1, 2, 2.5 or 5 times a power of ten that cuts ``span`` into about ``count`` - 1 parts."""
    raw = span / max(count - 1, 1) if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * 0.999)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (the range is widened to the ticks)."""
    step = nice_step(high - low, count)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(first, max(last, first + 1) + 1)]


def tick_text(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) + (1 if round(step / 10 ** math.floor(
        math.log10(step)), 6) == 2.5 else 0)
    return f"{value:,.{decimals}f}" if abs(value) >= 1000 else f"{value:.{decimals}f}"


def date_positions(n: int, count: int = 6) -> list[int]:
    """Indices of about ``count`` evenly spread sessions to label, the first and the last included."""
    if n <= count:
        return list(range(n))
    return sorted({round(i * (n - 1) / (count - 1)) for i in range(count)})


def _points(xs: Sequence[float], values: Sequence[float | None], y) -> list[str]:
    """Polylines of the values, broken where one is missing."""
    segments: list[list[tuple[float, float]]] = [[]]
    for x, value in zip(xs, values):
        if value is None or not math.isfinite(value):
            segments.append([])
        else:
            segments[-1].append((x, value))
    out = []
    for segment in segments:
        if len(segment) >= 2:
            x_part, v_part = zip(*segment)
            out.append(" ".join(map("{:.1f},{:.1f}".format, x_part, y(np.array(v_part)))))
    return out


def _y_axis(ticks: list[float], y, x: float, colour: str, anchor: str, grid_to: float | None) -> list[str]:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    out = []
    for tick in ticks:
        if grid_to is not None:
            out.append(f'<line x1="{x}" x2="{grid_to}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>')
        dx = -4 if anchor == "end" else 4
        out.append(f'<text x="{x + dx}" y="{y(tick) + 4:.1f}" text-anchor="{anchor}" fill="{colour}">'
                   f'{tick_text(tick, step)}</text>')
    return out


def _scale(ticks: list[float], top: float, plot_h: float):
    low, high = ticks[0], ticks[-1]
    return lambda v: top + (high - v) / ((high - low) or 1.0) * plot_h


@dataclass(frozen=True)
class _Key:
    """One legend entry: a line (solid or dashed) and its label."""

    label: str
    colour: str
    dash: str = ""


def _legend_rows(keys: Sequence[_Key], width: float) -> list[list[tuple[float, _Key]]]:
    """The legend's entries placed left to right, a new row where the next one would not fit."""
    rows: list[list[tuple[float, _Key]]] = [[]]
    x = _LEFT + 4
    for key in keys:
        size = 28 + _CHAR_PX * len(key.label)
        if rows[-1] and x + size > width - 4:
            rows.append([])
            x = _LEFT + 4
        rows[-1].append((x, key))
        x += size
    return rows


def _legend(rows: list[list[tuple[float, _Key]]]) -> str:
    parts = []
    for r, row in enumerate(rows):
        y = 12 + r * _LEGEND_ROW
        for x, key in row:
            dash = f' stroke-dasharray="{key.dash}"' if key.dash else ""
            parts.append(f'<line x1="{x}" x2="{x + 16}" y1="{y - 4}" y2="{y - 4}" stroke="{key.colour}" '
                         f'stroke-width="2.5"{dash}/><text x="{x + 20}" y="{y}" fill="#333">{escape(key.label)}</text>')
    return "".join(parts)


def line_chart(dates: Sequence[date], lines: Sequence[Line], *, title: str,
               reference: tuple[float, str] | None = None, right: Line | None = None,
               width: int = 760, height: int = 210) -> str:
    """One chart of the page (see the module docstring); an empty string with fewer than 2 sessions."""
    n = len(dates)
    values = [v for line in lines for v in line.values if v is not None and math.isfinite(v)]
    if n < 2 or not values:
        return ""
    keys = [_Key(line.label, line.colour, line.dash) for line in (*lines, *([right] if right else []))]
    if reference is not None:
        keys.append(_Key(reference[1], "#555", "5 3"))
    legend = _legend_rows(keys, width)
    top = 10 + _LEGEND_ROW * len(legend)
    plot_w, plot_h = width - _LEFT - _RIGHT, height - top - _BOTTOM
    xs = [_LEFT + i * plot_w / (n - 1) for i in range(n)]
    ticks = nice_ticks(min(values + ([reference[0]] if reference else [])),
                       max(values + ([reference[0]] if reference else [])))
    y = _scale(ticks, top, plot_h)
    parts = [f'<rect class="plot" x="{_LEFT}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none"/>',
             *_y_axis(ticks, y, _LEFT, "#333", "end", _LEFT + plot_w)]
    if reference is not None:
        ry = y(reference[0])
        parts.append(f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{ry:.1f}" y2="{ry:.1f}" stroke="#555" '
                     'stroke-dasharray="5 3"/>')
    if right is not None:
        parts += _right_axis(xs, right, top, plot_h, _LEFT + plot_w)
    for line in lines:
        dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        parts += [f'<polyline fill="none" stroke="{line.colour}" stroke-width="{line.width}"{dash} points="{p}"/>'
                  for p in _points(xs, line.values, y)]
    parts += [f'<text x="{xs[i]:.1f}" y="{height - 8}" text-anchor="middle" fill="#666">{dates[i]}</text>'
              for i in date_positions(n, max(2, min(6, int(plot_w // 100))))]
    parts.append(_legend(legend))
    return (f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}">'
            + "".join(parts) + "</svg>")


def _right_axis(xs: list[float], line: Line, top: float, plot_h: float, x: float) -> list[str]:
    values = [v for v in line.values if v is not None and math.isfinite(v)]
    if len(values) < 2:
        return []
    ticks = nice_ticks(min(values), max(values), 4)
    y = _scale(ticks, top, plot_h)
    return [*_y_axis(ticks, y, x, line.colour, "start", None),
            *(f'<polyline fill="none" stroke="{line.colour}" stroke-width="{line.width}" points="{p}"/>'
              for p in _points(xs, line.values, y))]


def sparkline(values: Sequence[float], *, reference: float = 0.5, width: int = 140, height: int = 28,
              label: str = "") -> str:
    """A small line of ``values`` (the overview's index per stock) with its ``reference`` dashed, on
    its own range (widened to include the reference); no text: the table beside it says the numbers."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return ""
    low, high = min(*finite, reference), max(*finite, reference)
    span = (high - low) or 1.0
    y = lambda v: 2 + (high - v) / span * (height - 4)
    xs = [1 + i * (width - 2) / (len(values) - 1) for i in range(len(values))]
    points = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in zip(xs, values) if math.isfinite(v))
    return (f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{escape(label)}"><line x1="0" x2="{width}" y1="{y(reference):.1f}" y2="{y(reference):.1f}" '
            f'stroke="#aaa" stroke-dasharray="3 2"/><polyline fill="none" stroke="#1d4ed8" stroke-width="1.5" '
            f'points="{points}"/></svg>')
