"""Progress of a board walk down to a date (``finsent crawl --since``): a bar, the share of the time
span covered, and an estimate of the time left from the pace so far."""

from __future__ import annotations

import time
from datetime import datetime


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
        """``[#####---------------] 25% at 2025-06-01, ETA 3m05s``"""
        if reached is None:
            return ""
        done = self.fraction(reached)
        filled = round(done * self.width)
        elapsed = (time.monotonic() if now is None else now) - self.started
        eta = f"ETA {_duration(elapsed * (1 - done) / done)}" if done > 0 else "ETA ?"
        return f"[{'#' * filled}{'-' * (self.width - filled)}] {done:4.0%} at {reached:%Y-%m-%d}, {eta}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
