"""The Sentiment page's charts: readable ticks (round values), several dates, labelled reference
lines, a documented EMA, the index on its own axis; titles shown safely."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pandas as pd
import pytest

from finsent.web.charts import (
    EMA_SPAN,
    Line,
    date_positions,
    ema,
    line_chart,
    nice_ticks,
    tick_text,
)
from finsent.web.page import display_title, index_chart
from finsent.web.queries import IndexPoint


def _polyline_ys(svg: str, colour: str) -> list[float]:
    points = re.search(rf'stroke="{colour}" stroke-width="[\d.]+" points="([^"]+)"', svg).group(1)
    return [float(p.split(",")[1]) for p in points.split()]


def _texts(svg: str) -> list[str]:
    return re.findall(r">([^<>]+)</text>", svg)


@pytest.mark.parametrize(("low", "high", "expected"), [
    (0.221, 0.709, [0.2, 0.4, 0.6, 0.8]),  # the odd ticks 0.221 / 0.465 / 0.709, made round
    (0.485, 0.515, [0.48, 0.49, 0.5, 0.51, 0.52]),
    (60_000, 61_900, [60_000, 60_500, 61_000, 61_500, 62_000]),
    (-0.13, 0.31, [-0.2, 0.0, 0.2, 0.4]),
])
def test_ticks_are_round_values_covering_the_range(low, high, expected):
    assert nice_ticks(low, high) == pytest.approx(expected)


def test_tick_text_shows_the_digits_of_the_step():
    assert [tick_text(v, 0.2) for v in (0.2, 0.4)] == ["0.2", "0.4"]
    assert tick_text(0.025, 0.025) == "0.025" and tick_text(61_000, 500) == "61,000"


def test_the_ema_is_the_documented_recursion():
    values = [0.5, 0.6, 0.4, 0.55, 0.7, 0.3]
    expected = pd.Series(values).ewm(span=EMA_SPAN, adjust=False).mean().tolist()
    assert ema(values) == pytest.approx(expected)


def test_several_dates_are_labelled_first_and_last_included():
    assert date_positions(250) == [0, 50, 100, 149, 199, 249]
    assert date_positions(3) == [0, 1, 2]


def test_the_index_chart_fills_its_axis_with_round_ticks_dates_ema_and_a_labelled_half_line():
    rows = [IndexPoint(date(2026, 1, 1) + timedelta(days=i), 0.49 + 0.02 * (i % 2), 60_000.0 + 100 * i, "champion")
            for i in range(20)]
    svg = index_chart(rows)
    ys = _polyline_ys(svg, "#93c5fd")
    assert max(ys) - min(ys) > 60  # the small movement fills its own axis; on 0..1 it would be 3 pixels
    texts = _texts(svg)
    assert {"0.490", "0.495", "0.500", "0.505", "0.510"} <= set(texts)  # steps of 0.005, not 0.4867 / 0.5133
    assert "0.5 neutral" in texts and f"EMA {EMA_SPAN}" in texts and "mean P(up)" in texts and "close" in texts
    assert "60,000" in texts and "62,000" in texts  # the close on the right axis, round ticks
    dates = [t for t in texts if re.fullmatch(r"\d{4}-\d\d-\d\d", t)]
    assert len(dates) == 6 and dates[0] == "2026-01-01" and dates[-1] == "2026-01-20"
    assert len(_polyline_ys(svg, "#1d4ed8")) == 20  # the EMA over every session


def test_a_missing_value_breaks_the_line_and_too_little_draws_nothing():
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(5)]
    svg = line_chart(days, [Line("x", [0.1, 0.2, None, 0.3, 0.4], "#000")], title="t", reference=(0.0, "0"))
    assert svg.count("<polyline") == 2 and ">0<" in svg
    assert line_chart(days[:1], [Line("x", [0.1], "#000")], title="t") == ""


def test_titles_lose_bidi_controls_and_long_ones_end_with_an_ellipsis():
    assert display_title("\u202eevil\u202c\u2066 x\u2069") == "evil x"
    long = display_title("가" * 200)
    assert len(long) == 80 and long.endswith("…")
    assert display_title("  짧은   제목 ") == "짧은 제목"


def test_reference_lines_are_named_in_the_legend_never_over_the_plot():
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(30)]
    svg = line_chart(days, [Line("mean P(up)", [0.5 + 0.01 * (i % 3) for i in range(30)], "#000")],
                     title="t", reference=(0.5, "0.5 neutral"))
    top = float(re.search(r'<rect class="plot" x="[\d.]+" y="([\d.]+)"', svg).group(1))
    label_y = float(re.search(r'<text x="[\d.]+" y="([\d.]+)" fill="#333">0\.5 neutral</text>', svg).group(1))
    assert label_y < top  # above the plot, in the legend, beside a dashed sample of the line
    assert re.search(r'stroke="#555" stroke-width="2.5" stroke-dasharray="5 3"/><text[^>]*>0\.5 neutral', svg)


def test_a_wide_legend_wraps_onto_a_second_row_inside_the_chart():
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(30)]
    lines = [Line(f"series number {k}", [0.1 * k + i / 100 for i in range(30)], "#000")
             for k in range(4)]
    svg = line_chart(days, lines, title="t", reference=(0.0, "0"), width=560)
    legend = re.findall(r'<text x="([\d.]+)" y="([\d.]+)" fill="#333">([^<]+)</text>', svg)
    assert len({y for _, y, _ in legend}) == 2  # two rows
    assert all(float(x) + 7.2 * len(label) <= 560 for x, _, label in legend)  # none runs off the chart
    top = float(re.search(r'<rect class="plot" x="[\d.]+" y="([\d.]+)"', svg).group(1))
    assert all(float(y) < top for _, y, _ in legend)
