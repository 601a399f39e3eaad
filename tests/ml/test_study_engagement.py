"""The engagement signal: the board's comments written before the open, against the stock's own
trailing 20 sessions, nothing after the open (no look-ahead), stored through the crawl's own writer."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from finsent.db import raw_transaction
from finsent.errors import ConfigError
from finsent.ingest.records import CommentRow
from finsent.ingest.store import upsert_comments
from finsent.ml.study.panel import attention
from finsent.ml.study.spec import SIGNALS, StudySpec, signal_source
from tests.data.board import add_prices

KST = ZoneInfo("Asia/Seoul")
TICKER = "005930"


def _comments(engine, times: list[datetime]) -> None:
    rows = [CommentRow(TICKER, 1, k, None, 1, when.replace(tzinfo=KST), None, "글", None, 3, 1, 0, False, "test")
            for k, when in enumerate(times, start=1)]
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        upsert_comments(cur, rows)


def test_engagement_counts_the_comments_of_the_24_hours_before_the_open_only(engine):
    days = [date(2025, 6, 2) + timedelta(days=i) for i in range(40)]
    days = [d for d in days if d.weekday() < 5][:22]  # 20 trailing sessions, then the two studied
    add_prices(engine, TICKER, dict.fromkeys(days, 100.0))
    first, second = days[20], days[21]
    at_open = datetime.combine(second, datetime.min.time()) + timedelta(hours=9)
    # one comment in each trailing session's window; then 3 before the open of `first`; for `second`:
    # one just before its open, one at the open and one after it (those two are the session's, not known before)
    trailing = [datetime.combine(d, datetime.min.time()) + timedelta(hours=8) for d in days[:20]]
    before_first = [datetime.combine(first, datetime.min.time()) + timedelta(hours=h) for h in (6, 7, 8)]
    _comments(engine, [*trailing, *before_first, at_open - timedelta(seconds=1), at_open,
                       at_open + timedelta(hours=3)])
    values = attention(engine, "engagement", first, second, []).set_index("session_date")["value"]
    assert values[first] == pytest.approx(math.log((1 + 3) / (1 + 1)))
    # second (the next day): its 24 h window holds the comment just before its open only (the first's
    # three came before the first's open); its trailing 20 sessions take in the first's 3
    assert (second - first).days == 1
    assert values[second] == pytest.approx(math.log((1 + 1) / (1 + (19 + 3) / 20)))


def test_engagement_is_a_board_signal_and_needs_comments():
    assert "engagement" in SIGNALS and signal_source("engagement") == ("board", "engagement")
    assert "news_engagement" not in SIGNALS
    with pytest.raises(ConfigError, match="unknown signal 'news_engagement'"):
        StudySpec(signals=("news_engagement",)).validate()
