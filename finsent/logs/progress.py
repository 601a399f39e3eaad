"""Progress bars for long work, as log lines (Airflow task logs and terminals both read them).

No dependency and no carriage returns: each update is one line with a bar, how far the work got and
an ETA from the pace so far. ``Progress`` counts items (backtest steps); ``WalkProgress`` measures a
board walk down to a date (``finsent crawl --since``) by the time span its pages have covered.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime


def bar(share: float, width: int) -> str:
    filled = round(min(1.0, max(0.0, share)) * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def eta(elapsed: float, share: float) -> str:
    return f"ETA {duration(elapsed * (1 - share) / share)}" if share > 0 else "ETA ?"


class Progress:
    """``what [######------] 6/12  50% 0.40/s ETA 0m15s note``, logged at most every ``every_s``."""

    def __init__(self, log: logging.Logger, what: str, total: int, every_s: float = 2.0, width: int = 24) -> None:
        self.log, self.what, self.total, self.every_s, self.width = log, what, max(0, total), every_s, width
        self.done = 0
        self.started = time.monotonic()
        self._last = 0.0

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last < self.every_s and self.done < self.total:
            return
        self._last = now
        self.log.info("%s", self.line(now, note))

    def line(self, now: float | None = None, note: str = "") -> str:
        elapsed = (now or time.monotonic()) - self.started
        share = self.done / self.total if self.total else 1.0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        return (f"{self.what} {bar(share, self.width)} {self.done}/{self.total} {share:4.0%} {rate:.2f}/s "
                f"{eta(elapsed, share)}" + (f" {note}" if note else ""))


class WalkProgress:
    """A walk covers time from ``top`` (the newest post, or now) down to ``floor``; pages come newest
    first, so the oldest post of the last page says how far it got."""

    def __init__(self, floor: datetime, top: datetime, width: int = 20) -> None:
        self.floor, self.top, self.width = floor, top, width
        self.started = time.monotonic()

    def fraction(self, reached: datetime) -> float:
        span = (self.top - self.floor).total_seconds()
        if span <= 0:
            return 1.0
        return min(1.0, max(0.0, (self.top - reached).total_seconds() / span))

    def describe(self, reached: datetime | None, now: float | None = None) -> str:
        """``[#####---------------]  25% at 2025-06-01, ETA 3m05s``"""
        if reached is None:
            return ""
        done = self.fraction(reached)
        elapsed = (time.monotonic() if now is None else now) - self.started
        return f"{bar(done, self.width)} {done:4.0%} at {reached:%Y-%m-%d}, {eta(elapsed, done)}"
