"""`finsent crawl --since`: each page's log line shows a progress bar, how far back the walk is and an ETA."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from finsent.config import load_settings
from finsent.ingest.crawl import crawl_boards
from finsent.ingest.records import KST
from finsent.logs.progress import WalkProgress


def test_progress_is_the_share_of_the_span_covered_and_the_eta_follows_the_pace():
    top = datetime(2025, 1, 31, tzinfo=KST)
    progress = WalkProgress(floor=top - timedelta(days=30), top=top, width=10)
    progress.started = 100.0
    line = progress.describe(top - timedelta(days=6), now=160.0)  # a fifth of the span in a minute
    assert line == "[##--------]  20% at 2025-01-25, ETA 4m00s"
    assert progress.describe(top - timedelta(days=40), now=160.0).startswith("[##########] 100%")
    assert progress.describe(None) == ""


def test_crawl_since_logs_a_bar_and_an_eta_per_page(engine, naver, caplog):
    since = (datetime.now(KST) - timedelta(days=20)).date()
    with caplog.at_level(logging.INFO, logger="finsent"):
        reports = crawl_boards(load_settings(), engine, ["005930"], since=since, workers=1)
    assert reports[0].status == "ok"
    lines = [r.getMessage() for r in caplog.records if " page " in r.getMessage()]
    assert len(lines) >= 2
    shares = [int(m.group(1)) for line in lines if (m := re.search(r"\] +(\d+)% at \d{4}-\d\d-\d\d, ETA ", line))]
    assert len(shares) == len(lines), lines
    assert shares == sorted(shares) and shares[-1] == 100  # the walk ends at (or past) --since
