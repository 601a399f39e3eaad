"""The Sentiment page's chart and titles: the index gets its own labelled axis (a small movement
fills the plot instead of a flat line at 0.5), and titles are shown safely."""

from __future__ import annotations

import re
from datetime import date, timedelta

from finsent.orchestration.sentiment_page import display_title, svg_chart
from finsent.orchestration.sentiment_queries import IndexPoint


def _polyline_ys(svg: str, colour: str) -> list[float]:
    points = re.search(rf'stroke="{colour}" stroke-width="[\d.]+" points="([^"]+)"', svg).group(1)
    return [float(p.split(",")[1]) for p in points.split()]


def test_a_small_movement_of_the_index_fills_its_own_axis():
    rows = [IndexPoint(date(2026, 1, 1) + timedelta(days=i), 0.49 + 0.02 * (i % 2), 60_000.0 + 100 * i, "champion")
            for i in range(20)]
    svg = svg_chart(rows, height=200)
    ys = _polyline_ys(svg, "#2563eb")
    assert max(ys) - min(ys) > 100  # of a 152-pixel plot; on a 0..1 axis it would be 3 pixels
    assert "mean P(up)" in svg and ">0.485<" in svg and ">0.515<" in svg  # labelled ticks of its own range
    assert ">close<" in svg and ">60,000<" in svg and ">61,900<" in svg  # the close on the right axis


def test_titles_lose_bidi_controls_and_long_ones_end_with_an_ellipsis():
    assert display_title("\u202eevil\u202c\u2066 x\u2069") == "evil x"
    long = display_title("가" * 200)
    assert len(long) == 80 and long.endswith("…")
    assert display_title("  짧은   제목 ") == "짧은 제목"
