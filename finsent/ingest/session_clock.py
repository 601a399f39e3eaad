"""When a KRX session has closed, so that only finished daily bars are stored.

A bar fetched during trading hours is today's unfinished one; storing it would freeze a wrong close
(incremental runs never revisit stored sessions). The regular session is 09:00-15:30 KST; the
``session_hours`` table lists the days with other hours (the CSAT day closes at 16:30). A bar
counts as closed once its day's close plus a margin (for the closing auction's prints to settle)
has passed. Which days are sessions at all comes from the feed's own dates.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from finsent.ingest.records import KST

REGULAR_CLOSE = time(15, 30)
SETTLE_MARGIN = timedelta(minutes=30)


def closing_times(cursor, days: list[date]) -> dict[date, time]:
    """Closing time (KST) of each day; the regular close unless ``session_hours`` says otherwise."""
    cursor.execute("SELECT trade_date, closes FROM session_hours WHERE trade_date = ANY(%s)", (days,))
    special = dict(cursor.fetchall())
    return {day: special.get(day, REGULAR_CLOSE) for day in days}


def is_closed(day: date, closes: time, now: datetime) -> bool:
    """True once ``day``'s session (closing at ``closes`` KST) has closed and settled at ``now``."""
    return now >= datetime.combine(day, closes, tzinfo=KST) + SETTLE_MARGIN


def latest_allowed_date(now: datetime) -> date:
    """Dates after tomorrow (KST) are refused: a clock or a feed that far ahead is wrong, and one
    future row would stop the ticker's incremental sync for years."""
    return now.astimezone(KST).date() + timedelta(days=1)
