"""Comments crawled from the loopback's CBOX are labelled by the same rules as the posts they are under
(the session after the time each comment was written), and flagged by the comment rules (a deleted comment is empty)."""

from __future__ import annotations

from datetime import date

from finsent.cli import main
from finsent.config import load_settings
from finsent.ingest.comments_crawl import crawl_comments
from finsent.ingest.crawl import crawl_boards
from finsent.ingest.prices import sync_prices
from tests.data.board import query

SAMSUNG = "005930"
# the session a text written at w counts for, by the labels' own table: the first one that opens after w
SESSION_AFTER = """
SELECT min(p.trade_date) FROM prices p
WHERE p.ticker = c.ticker AND (p.trade_date + time '09:00') AT TIME ZONE 'Asia/Seoul' > c.written_at"""


def test_crawled_comments_are_labelled_at_their_own_time_and_flagged(engine, naver, capsys):
    settings = load_settings()
    crawl_boards(settings, engine, [SAMSUNG], since=date(2000, 1, 1), workers=1)
    crawl_comments(settings, engine, [SAMSUNG], days=60, workers=1)
    sync_prices(settings, engine, [SAMSUNG])
    assert main(["label"]) == 0 and "comments:" in capsys.readouterr().out
    assert main(["quality", "check"]) == 0
    (stored, deleted), = query(engine, "SELECT count(*), count(*) FILTER (WHERE deleted) FROM comments")
    assert stored > 20 and deleted > 0
    # every comment written before the last session opened has a label, on the first session after it
    rows = query(engine, f"SELECT l.session_date, ({SESSION_AFTER}) FROM comments c LEFT JOIN comment_labels l "
                         "ON (l.ticker, l.post_id, l.comment_no) = (c.ticker, c.post_id, c.comment_no) "
                         "AND l.definition = 'next_open_close' "
                         f"WHERE ({SESSION_AFTER}) < (SELECT max(trade_date) FROM prices)")
    assert len(rows) > 10 and all(labelled == expected for labelled, expected in rows), rows[:5]
    # a deleted comment is empty: flagged, and out of every snapshot
    assert query(engine, "SELECT count(*) FROM comments c WHERE deleted AND NOT EXISTS (SELECT 1 FROM comment_flags f "
                         "WHERE (f.ticker, f.post_id, f.comment_no, f.rule) = (c.ticker, c.post_id, c.comment_no, "
                         "'comment_empty'))") == [(0,)]
