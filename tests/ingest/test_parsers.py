"""Parsers: contract deviations raise PageParseError naming the URL; good bodies give exact rows."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest

from finsent.errors import PageParseError
from finsent.ingest.feeds import board_html, board_json, price_feeds
from finsent.ingest.feeds.decoding import decode_korean_html
from finsent.ingest.records import KST

URL = "http://example.invalid/page"


def json_page(posts, last_offset="abc=="):
    return json.dumps({"isSuccess": True, "result": {"posts": posts, "lastOffset": last_offset}}).encode()


POST = {"id": "301090375", "itemCode": "005930", "postType": "normal",
        "writer": {"nickname": "sscv****", "profileId": "p1", "isHolderVerified": True},
        "writtenAt": "2026-09-10T21:01:22", "title": " 내일 간다 ", "contentSwReplaced": "첫 줄<br>둘째 &amp; 줄",
        "contentSwReplacedButImg": None, "replyDepth": 1, "parentId": "301090001", "isCleanbotPassed": False,
        "commentCount": 2, "recommendCount": 5, "notRecommendCount": 1}


def test_json_post_maps_every_field():
    page = board_json.parse_list_page(json_page([POST]), URL, "005930", None)
    (row,) = page.posts
    assert row.as_tuple() == ("005930", 301090375, datetime(2026, 9, 10, 21, 1, 22, tzinfo=KST), "내일 간다",
                              "첫 줄\n둘째 & 줄", "sscv****", "p1", True, 301090001, False, True, "normal", None,
                              5, 1, 2, "naver-mobile")
    assert page.next_cursor == "abc=="


@pytest.mark.parametrize("last_offset, sent", [(None, None), ("", None), ("same", "same")])
def test_json_walk_ends_on_missing_or_repeated_cursor(last_offset, sent):
    assert board_json.parse_list_page(json_page([POST], last_offset), URL, "005930", sent).next_cursor is None


def test_json_other_stocks_are_skipped_and_counted():
    page = board_json.parse_list_page(json_page([POST, {**POST, "id": "5", "itemCode": "000660"}]), URL,
                                      "005930", None)
    assert [p.post_id for p in page.posts] == [301090375] and page.foreign == 1


@pytest.mark.parametrize("body, reason", [
    (b"", "empty body"),
    (b'{"isSuccess": true, "result": {"posts": [', "not JSON"),
    (b'{"isSuccess": false}', "isSuccess"),
    (b'{"isSuccess": true, "result": {}}', "result.posts"),
    (json_page([{**POST, "id": "x1"}]), "posts[0]"),
    (json_page([{k: v for k, v in POST.items() if k != "writtenAt"}]), "posts[0]: KeyError"),
    (json_page([{**POST, "writtenAt": "10 Sep 2026"}]), "posts[0]"),
])
def test_json_contract_violations_raise_with_url(body, reason):
    with pytest.raises(PageParseError) as error:
        board_json.parse_list_page(body, URL, "005930", None)
    assert URL in str(error.value) and reason in str(error.value)


def test_json_list_params_send_every_documented_parameter():
    params = board_json.list_params("005930", 50, None)
    assert set(params) == {"discussionType", "itemCode", "pageSize", "isHolderOnly", "excludesItemNews",
                           "isItemNewsOnly"}
    assert board_json.list_params("005930", 50, "c")["offset"] == "c"


BOARD_HTML = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=euc-kr"></head><body>
<div id="content"><div class="section inner_sub"><table class="type2">
<tr><th>날짜</th><th>제목</th><th>글쓴이</th><th>조회</th><th>공감</th><th>비공감</th></tr>
<tr onMouseOver="mouseOver(this)"><td><span class="tah p10 gray03">2025.04.18 14:04</span></td>
<td class="title"><a href="/item/board_read.naver?code=005930&amp;nid=301090375&amp;st=&amp;sw=&amp;page=1"
 title="★ 마지막으로 100배 종목 알려준다.★ &amp; 끝까지 다 읽어보세요">★ 마지막으로 100배...</a>
<span class="tah p9">[<b>2</b>]</span></td><td class="p11">sscv****</td>
<td><span class="tah p10 gray03">1,011</span></td><td><strong class="tah p10 red01">0</strong></td>
<td><strong class="tah p10 blue01">1</strong></td></tr>
<tr onMouseOver="mouseOver(this)"><td><span class="tah p10 gray03">2025.04.18 14:00</span></td>
<td class="title">클린봇이 이용자 보호를 위해 숨긴 게시글입니다.<span class="tah p9">[<b>2</b>]</span></td>
<td class="p11">inin****</td><td>12</td><td><strong>1</strong></td><td><strong>4</strong></td></tr>
<tr><td colspan="6"></td></tr>
</table></div></div>
<table class="Nnavi"><tr><td class="pgRR"><a href="/item/board.naver?code=005930&amp;page=9481">맨뒤</a></td></tr></table>
</body></html>"""


@pytest.mark.parametrize("codec", ["cp949", "utf-8"])
def test_legacy_board_row_in_either_encoding(codec):
    page = board_html.parse_list_page(BOARD_HTML.encode(codec), "text/html;charset=EUC-KR", URL, "005930")
    (row,) = page.posts
    assert (row.post_id, row.title, row.comment_count, row.views, row.likes, row.dislikes, row.author) == (
        301090375, "★ 마지막으로 100배 종목 알려준다.★ & 끝까지 다 읽어보세요", 2, 1011, 0, 1, "sscv****")
    assert row.posted_at == datetime(2025, 4, 18, 14, 4, tzinfo=KST)
    assert page.hidden == 1 and page.last_page == 9481


def test_legacy_board_changed_layout_raises():
    with pytest.raises(PageParseError, match=r"no table\.type2"):
        board_html.parse_list_page("<html>날짜</html>".encode("cp949"), None, URL, "005930")
    broken = BOARD_HTML.replace('<td class="p11">sscv****</td>', "")
    with pytest.raises(PageParseError, match="post row 1: post row has 5 cells"):
        board_html.parse_list_page(broken.encode("cp949"), None, URL, "005930")


def test_decoding_judges_by_the_marker_not_by_the_declaration():
    utf8 = "<meta charset=euc-kr>날짜".encode()
    assert decode_korean_html(utf8, "text/html; charset=EUC-KR", "날짜") == "<meta charset=euc-kr>날짜"
    assert decode_korean_html(b"\xff\xfe garbage", None, "날짜") is None


FCHART = ('<?xml version="1.0" encoding="EUC-KR" ?><protocol><chartdata symbol="005930" name="삼성전자" '
          'count="3" timeframe="day" precision="0" origintime="19900103">'
          '<item data="20180427|53380|53640|52440|53000|17815650" /><item data="20180430|0|0|0|53000|0" />'
          '<item data="20180504|53000|53900|51800|51900|39565391" /></chartdata></protocol>').encode("cp949")


def test_fchart_drops_halt_rows():
    page = price_feeds.parse_fchart(FCHART, URL, "005930")
    assert [r.trade_date for r in page.rows] == [date(2018, 4, 27), date(2018, 5, 4)] and page.halted == 1
    assert page.rows[0].close == Decimal(53000) and page.rows[0].adjusted


@pytest.mark.parametrize("body, reason", [
    (FCHART[:150], "not well-formed"), (b"<protocol/>", "no <chartdata>"),
    (FCHART.replace(b"|17815650", b""), "5 fields"), (FCHART.replace(b'symbol="005930"', b'symbol="000660"'),
                                                      "symbol"),
])
def test_fchart_violations(body, reason):
    with pytest.raises(PageParseError, match=reason):
        price_feeds.parse_fchart(body, URL, "005930")


def test_sise_json_array_literal():
    body = ("\n[['날짜', '시가', '고가', '저가', '종가', '거래량', '외국인소진율'],\n\t\t\n"
            '["20240102", 78200, 79800, 78200, 79600, 17142847, 54.05],\n\t\t\n'
            '["20240103", 0, 0, 0, 79600, 0, 54.0]\n]').encode()
    page = price_feeds.parse_sise_json(body, URL, "005930")
    assert [(r.trade_date, r.open, r.close, r.volume) for r in page.rows] == [
        (date(2024, 1, 2), Decimal(78200), Decimal(79600), 17142847)]
    assert page.halted == 1
    with pytest.raises(PageParseError, match="not an array literal"):
        price_feeds.parse_sise_json(body[:-5], URL, "005930")
    with pytest.raises(PageParseError, match="날짜 header"):
        price_feeds.parse_sise_json(b"[[1, 2]]", URL, "005930")
