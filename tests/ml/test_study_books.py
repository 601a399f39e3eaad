"""Books a Korean account can hold: their costs on hand-computed cases (the sell tax by trade date,
the short-sale ban, the no-trade band)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from finsent.ml.costs import SHORT_SALE_BAN, sell_tax_bps, short_sale_banned
from finsent.ml.study.books import book_days, summarize
from finsent.ml.study.panel import Panel


def _panel(prices: dict[str, list[tuple[float, float]]], signals: dict[str, list[float]], dates: list[date]) -> Panel:
    """prices: per ticker, (open, close) per date; signals: per ticker, the signal per date."""
    bars = [(t, d, o, c, 1000.0, True) for t, rows in prices.items() for d, (o, c) in zip(dates, rows)]
    sessions = pd.DataFrame(bars, columns=["ticker", "session_date", "open", "close", "volume", "member"])
    frame = pd.DataFrame([(t, d, v) for t, values in signals.items() for d, v in zip(dates, values)],
                         columns=["ticker", "session_date", "s"])
    return Panel(dates, frame, sessions)


def test_the_sell_tax_follows_the_trade_date_and_the_ban_both_ends_inclusive():
    assert [sell_tax_bps(d) for d in (date(2023, 6, 1), date(2024, 12, 26), date(2024, 12, 27), date(2025, 12, 30),
                                      date(2026, 1, 2))] == [20, 18, 15, 15, 20]
    assert (date(2023, 11, 6), date(2025, 3, 30)) == SHORT_SALE_BAN
    assert [short_sale_banned(d) for d in (date(2023, 11, 3), date(2023, 11, 6), date(2025, 3, 30),
                                           date(2025, 3, 31))] == [False, True, True, False]


def test_a_long_short_book_held_into_the_ban_pays_exactly_its_trades():
    dates = [date(2023, 11, 2), date(2023, 11, 3), date(2023, 11, 6)]  # the ban starts on the third
    panel = _panel({"A": [(100, 102), (102.5, 103), (103.5, 105)], "B": [(50, 50)] * 3,
                    "C": [(200, 198), (197, 196), (196, 194)]}, {"A": [3, 3, 3], "B": [2, 2, 2], "C": [1, 1, 1]},
                   dates)
    days = book_days(panel, "s", 1, "long_short", quantiles=3, band=0.0, cost_bps=20).set_index("session_date")
    # 11-02: long A and short C from the open; 11-03: both kept overnight (close to close), nothing traded;
    # 11-06 (banned): C covered at the 11-03 close, A kept, against the equal-weight average of A, B, C
    benchmark = ((105 / 103.5 - 1) + 0 + (194 / 196 - 1)) / 3
    assert days["gross"].tolist() == pytest.approx([0.02 + 0.01, 103 / 102 - 1 + 1 - 196 / 198,
                                                    105 / 103 - 1 - benchmark])
    assert days["long_only"].tolist() == [False, False, True]
    # units: buy A + sell C short (taxed, 2023: 20 bps); cover C at the 11-03 close; sell A at the end (taxed)
    assert days["units"].tolist() == [2, 1, 1] and days["sold"].tolist() == [1, 0, 1]
    assert days["cost"].tolist() == pytest.approx([(2 * 20 + 20) / 1e4, 20 / 1e4, (20 + 20) / 1e4])
    assert days["net"].tolist() == pytest.approx((days["gross"] - days["cost"]).tolist())
    book = summarize("s", 1, "long_short", days.reset_index(), 20)
    assert book.turnover == pytest.approx(4 / 3) and book.long_only_sessions == 1
    # the cost a side at which the net mean is 0, the tax still paid: (gross - tax) / units
    assert book.break_even_bps == pytest.approx((days["gross"].sum() - 40 / 1e4) / 4 * 1e4)


def test_the_tax_changes_with_the_trade_date_inside_one_book():
    dates = [date(2024, 12, 26), date(2024, 12, 27)]  # 0.18% then 0.15% (trades settling in 2025)
    panel = _panel({"A": [(100, 101), (101, 100)], "B": [(100, 99), (99, 100)]}, {"A": [2, 1], "B": [1, 2]}, dates)
    days = book_days(panel, "s", 1, "long_only", quantiles=2, band=0.0, cost_bps=20)
    # A bought at the 12-26 open and sold at its close (18 bps); B bought at the 12-27 open, sold at its close (15)
    assert days["units"].tolist() == [2, 2] and days["sold"].tolist() == [1, 1]
    assert days["cost"].tolist() == pytest.approx([(40 + 18) / 1e4, (40 + 15) / 1e4])
    assert days["gross"].tolist() == pytest.approx([0.01 - (0.01 - 0.01) / 2,
                                                    100 / 99 - 1 - (100 / 99 - 1 + 100 / 101 - 1) / 2])


def test_a_no_trade_band_keeps_a_name_that_slipped_one_quantile():
    dates = [date(2025, 6, 2), date(2025, 6, 3)]
    prices = {t: [(100, 101), (101, 102)] for t in "ABCD"}
    signals = {"A": [4, 3], "B": [3, 4], "C": [2, 2], "D": [1, 1]}  # A slips from the top quantile, B takes it
    plain = book_days(_panel(prices, signals, dates), "s", 1, "long_short", quantiles=4, band=0.0, cost_bps=20)
    banded = book_days(_panel(prices, signals, dates), "s", 1, "long_short", quantiles=4, band=0.25, cost_bps=20)
    # plain: A out at the 06-02 close, B in at the 06-03 open; then B sold and D covered at the end: 2 + 1 + 1 + 2
    assert plain["units"].tolist() == [3, 3] and plain["units"].sum() == 6
    # banded: A stays (its rank within a quarter of the cross-section below the top quantile), so A and B hold
    # half each: A halved at the close, B bought for half at the open, then both sold and D covered
    assert banded["units"].tolist() == [2.5, 2.5] and banded["sold"].tolist() == [1.5, 1]
    held_overnight = 0.5 * (102 / 101 - 1) + 0.5 * (102 / 101 - 1) - (102 / 101 - 1)  # A close to close, B from open
    assert banded["gross"].iloc[1] == pytest.approx(held_overnight)
    # 20 bps a side on every unit, and the 2025 tax (15 bps) on every unit sold
    assert banded["cost"].tolist() == pytest.approx([(2.5 * 20 + 1.5 * 15) / 1e4, (2.5 * 20 + 1 * 15) / 1e4])
