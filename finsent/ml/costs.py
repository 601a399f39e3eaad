"""What a Korean account pays to trade, by trade date (SOURCES.md section 4): the sell-side tax
table and the short-sale ban. The backtest's long-short and the study's books read them here.

The sell tax on KOSPI sales (securities transaction tax + the 0.15% special tax for rural
development) changes by the date of the trade: 0.20% in 2023, 0.18% in 2024, 0.15% from
2024-12-27 (trades settling in 2025), 0.20% again from 2026-01-01. Earlier years, from the public
record: 0.30% until 2019-05-29, 0.25% from 2019-05-30, 0.23% in 2021-2022.
"""

from __future__ import annotations

import bisect
from datetime import date

import pandas as pd

# The FSC's ban on new short sales of all listed stocks (announced 2023-11-05, extended in 2024);
# short selling resumed on 2025-03-31. Both ends inclusive.
SHORT_SALE_BAN = (date(2023, 11, 6), date(2025, 3, 30))

# (first trade date, basis points per unit sold): each rate holds until the next one starts
KOSPI_SELL_TAX = ((date(1900, 1, 1), 30.0), (date(2019, 5, 30), 25.0), (date(2021, 1, 1), 23.0),
                  (date(2023, 1, 1), 20.0), (date(2024, 1, 1), 18.0), (date(2024, 12, 27), 15.0),
                  (date(2026, 1, 1), 20.0))
SELL_TAX_TABLE = "KOSPI sell tax by trade date (SOURCES.md section 4)"
_STARTS = [start for start, _ in KOSPI_SELL_TAX]


def sell_tax_bps(day) -> float:
    """The sell-side tax in force on the trade date ``day``, in basis points per unit sold."""
    return KOSPI_SELL_TAX[bisect.bisect_right(_STARTS, pd.Timestamp(day).date()) - 1][1]


def short_sale_banned(day) -> bool:
    """No new short positions could be opened on ``day`` (both ends of the ban inclusive)."""
    return SHORT_SALE_BAN[0] <= pd.Timestamp(day).date() <= SHORT_SALE_BAN[1]
