"""A progress bar for long work, as log lines (Airflow task logs and terminals both read them).

No dependency and no carriage returns: each update is one line with a bar, the count, the rate and
an ETA, written at most every ``every_s`` seconds (and always for the last item).
"""

from __future__ import annotations

import logging
import time


class Progress:
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
        filled = round(share * self.width)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta_text = _duration(eta) if eta == eta else "?"
        bar = "#" * filled + "." * (self.width - filled)
        return (f"{self.what} [{bar}] {self.done}/{self.total} {share:4.0%} "
                f"{rate:.2f}/s ETA {eta_text}" + (f" {note}" if note else ""))


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
