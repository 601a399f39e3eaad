"""The per-host request clock, held in Postgres so it spans processes.

``FINSENT_CRAWL_DELAY_S`` is a promise to the site, not to one process: Airflow runs every mapped
crawl task as its own process, and the ``naver`` pool lets two of them run at once. Each request
reserves the host's next slot in the ``host_clock`` row in one atomic statement (the row lock
serialises concurrent reservations) and sleeps until its slot. Postgres's clock is the one clock
every process reads, so machine clocks need not agree. No broker, no new server.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# Reserve the slot after the last reserved one (or now, when the host has been idle) and return
# how long to wait for it. One statement, so two processes can never take the same slot.
_RESERVE = text("""
INSERT INTO host_clock AS h (host, next_slot) VALUES (:host, clock_timestamp() + make_interval(secs => :gap))
ON CONFLICT (host) DO UPDATE
    SET next_slot = greatest(h.next_slot, clock_timestamp()) + make_interval(secs => :gap)
RETURNING extract(epoch FROM h.next_slot - clock_timestamp())::float8 - :gap
""")
_HOLD_OFF = text("""
INSERT INTO host_clock AS h (host, next_slot) VALUES (:host, clock_timestamp() + make_interval(secs => :seconds))
ON CONFLICT (host) DO UPDATE
    SET next_slot = greatest(h.next_slot, clock_timestamp() + make_interval(secs => :seconds))
""")


class SharedHostClock:
    """Keeps requests to one host at least ``interval_s`` apart across every process sharing ``engine``."""

    def __init__(self, engine: Engine, interval_s: float) -> None:
        self.engine = engine
        self.interval_s = interval_s

    def wait(self, host: str) -> None:
        with self.engine.connect() as conn:
            wait_s = conn.execute(_RESERVE, {"host": host, "gap": self.interval_s}).scalar_one()
            conn.commit()
        if wait_s > 0:
            time.sleep(wait_s)

    def hold_off(self, host: str, seconds: float) -> None:
        """Push the host's next slot out for everyone (a 429 with Retry-After speaks for the whole host)."""
        with self.engine.connect() as conn:
            conn.execute(_HOLD_OFF, {"host": host, "seconds": seconds})
            conn.commit()
        log.info("%s asked us to wait %.1fs; every finsent process holds off", host, seconds)
