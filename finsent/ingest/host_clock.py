"""The per-host request clock, held in Postgres so it spans processes.

``FINSENT_CRAWL_DELAY_S`` is a promise to the site, not to one process: Airflow runs every mapped
crawl task as its own process, and the ``naver`` pool lets two of them run at once. Each request
reserves the host's next slot in the ``host_clock`` row in one atomic statement (the row lock
serialises concurrent reservations) and sleeps until its slot. Postgres's clock is the one clock
every process reads, so machine clocks need not agree. No broker, no new server.

A 429 pushes the host's slot out for everyone (``hold_off``). A request whose slot lies further
ahead than it may wait (``FINSENT_HTTP_MAX_WAIT_S``) reserves nothing and fails at once
(HostBusyError), so no process sits silently behind a long ``Retry-After``; a shorter wait is logged.
"""

from __future__ import annotations

import logging
import math
import time

from sqlalchemy import text
from sqlalchemy.engine import Engine

from finsent.errors import HostBusyError

log = logging.getLogger(__name__)

# A wait for a host longer than this is logged (shorter ones are the crawl delay at work).
LOUD_WAIT_S = 5.0

# Reserve the slot after the last reserved one (or now, when the host has been idle) and return
# how long to wait for it, unless that is more than :max_wait away (no row then: nothing reserved).
# One statement, so two processes can never take the same slot.
_RESERVE = text("""
INSERT INTO host_clock AS h (host, next_slot) VALUES (:host, clock_timestamp() + make_interval(secs => :gap))
ON CONFLICT (host) DO UPDATE
    SET next_slot = greatest(h.next_slot, clock_timestamp()) + make_interval(secs => :gap)
    WHERE h.next_slot <= clock_timestamp() + make_interval(secs => :max_wait)
RETURNING extract(epoch FROM h.next_slot - clock_timestamp())::float8 - :gap
""")
_HELD_FOR = text("SELECT extract(epoch FROM next_slot - clock_timestamp())::float8 FROM host_clock WHERE host = :host")
_HOLD_OFF = text("""
INSERT INTO host_clock AS h (host, next_slot) VALUES (:host, clock_timestamp() + make_interval(secs => :seconds))
ON CONFLICT (host) DO UPDATE
    SET next_slot = greatest(h.next_slot, clock_timestamp() + make_interval(secs => :seconds))
""")


def too_long(host: str, wait_s: float, max_wait_s: float) -> HostBusyError:
    return HostBusyError(f"{host} is held off for another {wait_s:.0f} s (a 429's Retry-After), more than "
                         f"FINSENT_HTTP_MAX_WAIT_S={max_wait_s:g}: not waiting; a later run crawls this ticker")


def sleep_for(host: str, wait_s: float) -> None:
    """Sleep ``wait_s`` for ``host``'s slot, saying so when it is long."""
    if wait_s >= LOUD_WAIT_S:
        log.info("waiting %.1f s for %s (its request clock: FINSENT_CRAWL_DELAY_S, or a 429's Retry-After)",
                 wait_s, host)
    if wait_s > 0:
        time.sleep(wait_s)


class SharedHostClock:
    """Keeps requests to one host at least ``interval_s`` apart across every process sharing ``engine``."""

    def __init__(self, engine: Engine, interval_s: float) -> None:
        self.engine = engine
        self.interval_s = interval_s

    def wait(self, host: str, max_wait_s: float = math.inf) -> None:
        """Reserve ``host``'s next slot and sleep until it; HostBusyError (nothing reserved) when the
        slot is more than ``max_wait_s`` away."""
        limit = min(max_wait_s, 10**9)  # Postgres intervals are finite
        with self.engine.connect() as conn:
            wait_s = conn.execute(_RESERVE, {"host": host, "gap": self.interval_s, "max_wait": limit}).scalar()
            held = conn.execute(_HELD_FOR, {"host": host}).scalar() if wait_s is None else None
            conn.commit()
        if wait_s is None:
            raise too_long(host, held or 0.0, max_wait_s)
        sleep_for(host, wait_s)

    def hold_off(self, host: str, seconds: float) -> None:
        """Push the host's next slot out for everyone (a 429 with Retry-After speaks for the whole host)."""
        with self.engine.connect() as conn:
            conn.execute(_HOLD_OFF, {"host": host, "seconds": seconds})
            conn.commit()
        log.info("%s asked us to wait %.1fs; every finsent process holds off", host, seconds)
