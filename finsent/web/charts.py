"""The Sentiment page's charts: inline SVG drawn on the server (no script, no CDN: works offline).

One chart function draws every chart of the page: sessions evenly spaced on x with several date
labels, a y axis on "nice" ticks (1, 2, 2.5 or 5 times a power of ten), labelled reference lines
(0.5 for P(up), 0 for a correlation, 1 for a cumulative return), a legend, an optional right axis
(the close), and gaps where a value is missing. Smoothing is an exponential moving average
(``ema``): span ``EMA_SPAN`` sessions, alpha = 2 / (span + 1), started at the first value.
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
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 74, 26, 28


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


def line_chart(dates: Sequence[date], lines: Sequence[Line], *, title: str,
               reference: tuple[float, str] | None = None, right: Line | None = None,
               width: int = 760, height: int = 210) -> str:
    """One chart of the page (see the module docstring); an empty string with fewer than 2 sessions."""
    n = len(dates)
    values = [v for line in lines for v in line.values if v is not None and math.isfinite(v)]
    if n < 2 or not values:
        return ""
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    xs = [_LEFT + i * plot_w / (n - 1) for i in range(n)]
    ticks = nice_ticks(min(values + ([reference[0]] if reference else [])),
                       max(values + ([reference[0]] if reference else [])))
    y = _scale(ticks, _TOP, plot_h)
    parts = _y_axis(ticks, y, _LEFT, "#333", "end", _LEFT + plot_w)
    if reference is not None:
        ry = y(reference[0])
        parts.append(f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{ry:.1f}" y2="{ry:.1f}" stroke="#555" '
                     'stroke-dasharray="5 3"/>'
                     f'<text x="{_LEFT + plot_w - 4}" y="{ry - 4:.1f}" text-anchor="end" fill="#555" '
                     f'paint-order="stroke" stroke="#fff" stroke-width="3">{escape(reference[1])}</text>')
    if right is not None:
        parts += _right_axis(xs, right, plot_h, _LEFT + plot_w)
    for line in lines:
        dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        parts += [f'<polyline fill="none" stroke="{line.colour}" stroke-width="{line.width}"{dash} points="{p}"/>'
                  for p in _points(xs, line.values, y)]
    parts += [f'<text x="{xs[i]:.1f}" y="{height - 8}" text-anchor="middle" fill="#666">{dates[i]}</text>'
              for i in date_positions(n)]
    parts.append(_legend([*lines, *([right] if right else [])]))
    return (f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}">'
            + "".join(parts) + "</svg>")


def _right_axis(xs: list[float], line: Line, plot_h: float, x: float) -> list[str]:
    values = [v for v in line.values if v is not None and math.isfinite(v)]
    if len(values) < 2:
        return []
    ticks = nice_ticks(min(values), max(values), 4)
    y = _scale(ticks, _TOP, plot_h)
    return [*_y_axis(ticks, y, x, line.colour, "start", None),
            *(f'<polyline fill="none" stroke="{line.colour}" stroke-width="{line.width}" points="{p}"/>'
              for p in _points(xs, line.values, y))]


def _legend(lines: Sequence[Line]) -> str:
    parts, x = [], _LEFT + 4
    for line in lines:
        parts.append(f'<line x1="{x}" x2="{x + 16}" y1="{_TOP - 14}" y2="{_TOP - 14}" stroke="{line.colour}" '
                     f'stroke-width="2.5"/><text x="{x + 20}" y="{_TOP - 10}" fill="#333">{escape(line.label)}</text>')
        x += 28 + 7 * len(line.label)
    return "".join(parts)
