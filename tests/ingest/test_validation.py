"""The one record validation of crawls and imports (finsent.ingest.validation): what may be stored."""

from __future__ import annotations

from datetime import datetime, timedelta

from finsent.ingest.records import KST, PostRow
from finsent.ingest.validation import MAX_TITLE_CHARS, post_problem, split_valid, text_problem, time_problem

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=KST)


def _post(post_id: int, title: str = "오늘 상승", posted_at: datetime = NOW - timedelta(hours=1)) -> PostRow:
    return PostRow("005930", post_id, posted_at, title)


def test_text_that_cannot_be_stored_says_why():
    assert text_problem("삼성전자 실적", "title", 100) is None and text_problem(None, "body", 10) is None
    assert text_problem("x" * 11, "title", 10) == "title is 11 characters long; at most 10"
    assert text_problem("a\ud83db", "body", 10) == ("body holds a lone surrogate (U+D83D at character 1): "
                                                    "not valid Unicode")


def test_a_time_before_naver_or_more_than_a_day_ahead_is_a_wrong_date():
    assert time_problem(NOW + timedelta(hours=23), "posted_at", NOW) is None
    assert "before 1999-06-02" in time_problem(datetime(1970, 1, 1, tzinfo=KST), "posted_at", NOW)
    assert "more than a day ahead" in time_problem(NOW + timedelta(days=2), "posted_at", NOW)


def test_split_valid_keeps_the_good_rows_and_names_the_bad_ones():
    rows = [_post(1), _post(2, " "), _post(3, "y" * (MAX_TITLE_CHARS + 1)), _post(4, posted_at=NOW + timedelta(days=3))]
    good, bad = split_valid(rows, post_problem, NOW, key=lambda row: str(row.post_id))
    assert [row.post_id for row in good] == [1]
    assert [(rejected.key, rejected.reason.split(" ")[0]) for _, rejected in bad] == [
        ("2", "title"), ("3", "title"), ("4", "posted_at")]
    assert bad[0][1].reason == "title is empty"
