"""Parser edges from the field: non-UTF-8 siseJson, writtenAt with an offset, pages of other stocks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from finsent.errors import PageParseError
from finsent.ingest.feeds import board_json, price_feeds
from finsent.ingest.records import KST
from tests.ingest.test_parsers import POST, URL, json_page

SISE_JSON = ("[['날짜', '시가', '고가', '저가', '종가', '거래량', '외국인소진율'],\n"
             '["20250417", 100, 110, 90, 105, 1000, 50.1]\n]')


def test_sise_json_that_is_not_utf8_is_a_parse_error_so_it_is_quarantined():
    page = price_feeds.parse_sise_json(SISE_JSON.encode("utf-8"), URL, "005930")
    assert [r.close for r in page.rows] == [105]
    with pytest.raises(PageParseError, match="not UTF-8") as error:
        price_feeds.parse_sise_json(SISE_JSON.encode("cp949"), URL, "005930")
    assert URL in str(error.value)


@pytest.mark.parametrize("written_at, expected", [
    ("2025-04-17T14:04:00", datetime(2025, 4, 17, 14, 4, tzinfo=KST)),         # Naver's own: KST, no offset
    ("2025-04-17T14:04:00+09:00", datetime(2025, 4, 17, 14, 4, tzinfo=KST)),
    ("2025-04-17T05:04:00Z", datetime(2025, 4, 17, 14, 4, tzinfo=KST)),         # UTC, once cut to 05:04 KST
    ("2025-04-17T05:04:00.123+00:00", datetime(2025, 4, 17, 14, 4, tzinfo=KST)),
])
def test_written_at_with_an_offset_is_honoured(written_at, expected):
    (row,) = board_json.parse_list_page(json_page([{**POST, "writtenAt": written_at}]), URL, "005930", None).posts
    assert row.posted_at == expected and row.posted_at.utcoffset() == timedelta(hours=9)


def test_a_page_of_only_other_stocks_posts_does_not_end_the_walk():
    foreign = [{**POST, "id": str(301090375 - i), "itemCode": "999990"} for i in range(3)]
    page = board_json.parse_list_page(json_page(foreign, last_offset="next=="), URL, "005930", "prev==")
    assert page.posts == [] and page.foreign == 3 and page.next_cursor == "next=="
    end = board_json.parse_list_page(json.dumps({"isSuccess": True, "result": {"posts": [], "lastOffset": None}})
                                     .encode(), URL, "005930", "next==")
    assert end.next_cursor is None


def test_an_impossible_bar_is_a_parse_error():
    body = (b'<?xml version="1.0" encoding="EUC-KR" ?><protocol><chartdata symbol="005930">'
            b'<item data="20250417|100|110|90|0|1000" /></chartdata></protocol>')
    with pytest.raises(PageParseError, match="above 0"):
        price_feeds.parse_fchart(body, URL, "005930")
