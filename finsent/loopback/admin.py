"""Admin actions on a running loopback Naver: what the exchange does to a stock between two crawls."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from finsent.loopback.content import KRX_HOLIDAYS, PriceRow

if TYPE_CHECKING:
    from finsent.loopback.server import FakeNaver


def _next_session(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5 or day in KRX_HOLIDAYS:
        day += timedelta(days=1)
    return day


def split(fake: FakeNaver, ticker: str, ratio: int) -> date:
    """A ``ratio``:1 stock split. Like the real feeds, fchart and siseJson rewrite the whole adjusted
    history on the new share basis (prices / ratio, volumes * ratio); the legacy sise_day pages keep
    the raw prices. One session on the new basis is added after the last; its date is returned."""
    if ticker not in fake.tickers or ratio < 2:
        raise ValueError(f"split needs a known ticker and a ratio >= 2, got {ticker!r} {ratio}")
    with fake.lock:
        rows = fake.prices[ticker]
        if not rows:
            raise ValueError(f"{ticker} has no prices to split")
        # rounding keeps low <= open, close <= high (it is monotonic); a halt row's zeros stay zeros
        scaled = [PriceRow(r.trade_date, *(max(1, round(v / ratio)) if v else 0
                                           for v in (r.open, r.high, r.low, r.close)), r.volume * ratio)
                  for r in rows]
        close = scaled[-1].close
        day = _next_session(rows[-1].trade_date)
        wick = max(1, close // 50)
        new = PriceRow(day, close, close + wick, max(1, close - wick), close, rows[-1].volume * ratio)
        fake.prices[ticker] = [*scaled, new]
        fake.raw_prices[ticker] = [*fake.raw_prices[ticker], new]
    return day


def adjust_history(fake: FakeNaver, ticker: str, factor: float) -> int:
    """A price-history rewrite (a dividend or rights-issue adjustment): the adjusted feeds (fchart,
    siseJson) scale every bar before the last session by ``factor``; returns how many bars changed."""
    if ticker not in fake.tickers or not 0 < factor < 1:
        raise ValueError(f"adjust_history needs a known ticker and 0 < factor < 1, got {ticker!r} {factor}")
    with fake.lock:
        rows = fake.prices[ticker]
        scaled = [PriceRow(r.trade_date, *(max(1, round(v * factor)) if v else 0
                                           for v in (r.open, r.high, r.low, r.close)), r.volume)
                  for r in rows[:-1]]
        fake.prices[ticker] = [*scaled, *rows[-1:]]
    return sum(1 for old, new in zip(rows, scaled) if old != new)
