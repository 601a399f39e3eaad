"""Only finished daily bars are stored (finsent.ingest.session_clock): a session counts as closed once
its close (the regular 15:30, or session_hours' own) plus the settle margin has passed."""

from __future__ import annotations

from datetime import date, datetime, time

from finsent.db import raw_transaction
from finsent.ingest.records import KST
from finsent.ingest.session_clock import REGULAR_CLOSE, closing_times, is_closed, latest_allowed_date


def test_a_session_is_closed_after_its_close_and_the_margin():
    day = date(2026, 3, 2)
    assert not is_closed(day, REGULAR_CLOSE, datetime(2026, 3, 2, 15, 59, tzinfo=KST))
    assert is_closed(day, REGULAR_CLOSE, datetime(2026, 3, 2, 16, 0, tzinfo=KST))
    assert not is_closed(day, time(16, 30), datetime(2026, 3, 2, 16, 30, tzinfo=KST))  # the CSAT day's late close


def test_tomorrow_in_korea_is_the_latest_date_a_feed_may_give():
    assert latest_allowed_date(datetime(2026, 3, 2, 20, 0, tzinfo=KST)) == date(2026, 3, 3)
    # 16:00 UTC is already the next day in Seoul
    assert latest_allowed_date(datetime.fromisoformat("2026-03-02T16:00:00+00:00")) == date(2026, 3, 4)


def test_session_hours_override_the_regular_close(engine):
    with raw_transaction(engine) as raw, raw.cursor() as cur:  # the 2017 CSAT day, as the migrations seed it
        closes = closing_times(cur, [date(2017, 11, 23), date(2017, 11, 24)])
    assert closes == {date(2017, 11, 23): time(16, 30), date(2017, 11, 24): REGULAR_CLOSE}
