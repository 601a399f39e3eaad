"""The per-host request clock in Postgres (finsent.ingest.host_clock): requests to one host are spaced
for every process, and a host held off further than a request may wait fails at once."""

from __future__ import annotations

import time

import pytest

from finsent.errors import HostBusyError
from finsent.ingest.host_clock import SharedHostClock, too_long


def test_requests_to_one_host_are_spaced_and_a_long_hold_off_refuses(engine):
    clock = SharedHostClock(engine, interval_s=0.3)
    started = time.monotonic()
    for _ in range(3):
        clock.wait("finance.naver.test")
    assert time.monotonic() - started >= 0.55  # the 2nd and 3rd waited their slots
    clock.wait("other.test")  # another host has its own clock
    clock.hold_off("finance.naver.test", 60)
    with pytest.raises(HostBusyError, match="held off for another"):
        clock.wait("finance.naver.test", max_wait_s=5)


def test_the_refusal_names_the_setting():
    assert "FINSENT_HTTP_MAX_WAIT_S=30" in str(too_long("h", 120, 30))
