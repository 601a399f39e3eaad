"""The loopback Naver's parts that clients must not lean on (finsent.loopback.content: opaque cursors,
ticks) and the faults it can be told to serve (finsent.loopback.faults: refused when misconfigured)."""

from __future__ import annotations

import email.utils
import time

import pytest

from finsent.loopback.content import decode_cursor, encode_cursor, round_tick
from finsent.loopback.faults import FAULT_KINDS, check, http_date


def test_a_cursor_round_trips_and_a_forged_one_means_nothing():
    token = encode_cursor(123456789, "005930")
    assert decode_cursor(token) == 123456789 and decode_cursor(token.rstrip("=")) == 123456789
    assert decode_cursor("bm90IGEgY3Vyc29y") is None and decode_cursor("%%%") is None
    assert round_tick(71_249) == 71_200 and round_tick(12) == 100


def test_faults_are_checked_before_they_are_served():
    check("status", {"code": 503})
    check("redirect", {"to_base": "http://127.0.0.1:1"})
    for kind, options, why in (("teleport", {}, "unknown fault kind 'teleport'"),
                               ("status", {"code": 200}, "needs an error code"),
                               ("redirect", {}, "needs location= or to_base="),
                               ("poison", {"fields": "title"}, "needs fields=")):
        with pytest.raises(ValueError, match=why):
            check(kind, options)
    assert {"status", "rate_limit", "page_loop"} <= FAULT_KINDS


def test_retry_after_is_an_http_date_that_far_ahead():
    ahead = email.utils.parsedate_to_datetime(http_date(120)).timestamp() - time.time()
    assert 118 <= ahead <= 121
