"""Quick self-tests of the loopback Naver (finsent/loopback)."""

from __future__ import annotations

import ast
import itertools
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests
from bs4 import BeautifulSoup

from finsent.loopback import CLEANBOT_HIDDEN_TEXT, FakeNaver

LIST_PATH = "/front-api/discussion/list"


def _xml(body: bytes) -> ET.Element:
    """Parse fchart XML: expat refuses the EUC-KR declaration, so decode and drop it first."""
    return ET.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", body.decode("cp949").lstrip()))


def _list_params(code: str, page_size: int = 25, offset: str | None = None) -> dict[str, str]:
    params = {
        "discussionType": "domesticStock",
        "itemCode": code,
        "pageSize": str(page_size),
        "isHolderOnly": "false",
        "excludesItemNews": "false",
        "isItemNewsOnly": "false",
    }
    if offset is not None:
        params["offset"] = offset
    return params


def _walk(fake: FakeNaver, code: str, page_size: int = 25) -> list[dict]:
    """Walk the JSON board the way SOURCES.md says: stop on empty posts or missing/repeated offset."""
    seen: list[dict] = []
    offset: str | None = None
    with requests.Session() as session:
        for _ in range(1000):
            params = _list_params(code, page_size, offset)
            r = session.get(fake.base_url + LIST_PATH, params=params, timeout=5)
            r.raise_for_status()
            result = r.json()["result"]
            seen.extend(result["posts"])
            nxt = result.get("lastOffset")
            if not result["posts"] or not nxt or nxt == offset:
                return seen
            offset = nxt
    raise AssertionError("walk did not end")


@pytest.fixture()
def fake() -> Iterator[FakeNaver]:
    with FakeNaver(seed=7) as server:
        yield server


def test_deterministic_for_a_seed() -> None:
    a, b, c = FakeNaver(seed=3), FakeNaver(seed=3), FakeNaver(seed=4)
    assert a.posts == b.posts and a.prices == b.prices and a.raw_prices == b.raw_prices
    assert a.posts != c.posts
    ids = [p.id for p in a.all_posts()]
    assert ids == sorted(set(ids))
    assert all(1 <= y - x <= 40 for x, y in itertools.pairwise(ids))
    for posts in a.posts.values():
        times = [p.written_at for p in posts]
        assert times == sorted(times)


def test_json_walk_sees_every_post_once_even_with_arrivals(fake: FakeNaver) -> None:
    before = [p.id for p in fake.posts["005930"]]
    fake.arrive_during_crawl("005930", 7, after_requests=2)
    got = _walk(fake, "005930")
    ids = [int(p["id"]) for p in got]
    assert ids == sorted(before, reverse=True)  # newest first, each exactly once, no arrivals
    assert {p["itemCode"] for p in got} == {"005930"}
    assert len(fake.posts["005930"]) == len(before) + 7
    assert fake.list_requests("005930") == len(before) // 25 + 2  # full pages, the rest, the empty one
    # The next walk sees the arrivals too.
    assert len(_walk(fake, "005930", page_size=100)) == len(before) + 7


def test_json_cursor_is_opaque_and_fields_match_sources(fake: FakeNaver) -> None:
    r = requests.get(fake.base_url + LIST_PATH, params=_list_params("000660", 5), timeout=5)
    body = r.json()
    assert body["isSuccess"] is True
    cursor = body["result"]["lastOffset"]
    assert not cursor.isdigit()
    post = body["result"]["posts"][0]
    for key in ("id", "itemCode", "postType", "writer", "writtenAt", "title", "contentSwReplaced",
                "contentSwReplacedButImg", "replyDepth", "parentId", "isCleanbotPassed", "commentCount",
                "recommendCount", "notRecommendCount"):
        assert key in post
    assert post["id"].isdigit() and len(post["writtenAt"]) == 19


def test_json_missing_parameter_leaks_other_stocks(fake: FakeNaver) -> None:
    params = _list_params("005930", 100)
    del params["isItemNewsOnly"]
    r = requests.get(fake.base_url + LIST_PATH, params=params, timeout=5)
    codes = {p["itemCode"] for p in r.json()["result"]["posts"]}
    assert codes - {"005930"}


@pytest.mark.parametrize("style", ["repeat", "omit", "null"])
def test_json_end_of_walk_styles(fake: FakeNaver, style: str) -> None:
    fake.json_end_style = style
    assert len(_walk(fake, "000660", page_size=100)) == len(fake.posts["000660"])
    r = requests.get(fake.base_url + LIST_PATH, params=_list_params("999999"), timeout=5)
    assert r.json() == {"isSuccess": True, "result": {"posts": [], "lastOffset": None}}


def test_board_html_is_cp949_with_20_rows(fake: FakeNaver) -> None:
    r = requests.get(fake.base_url + "/item/board.naver", params={"code": "005930", "page": 2}, timeout=5)
    assert r.headers["Content-Type"] == "text/html;charset=EUC-KR"
    text = r.content.decode("cp949")
    assert "날짜" in text and 'charset=euc-kr"' in text
    soup = BeautifulSoup(text, "lxml")
    rows = soup.select("#content div.section.inner_sub table.type2 tr[onmouseover]")
    assert len(rows) == 20 and all(len(tr.find_all("td")) == 6 for tr in rows)
    assert soup.select_one("table.Nnavi td.pgRR a")["href"].endswith("page=6")  # 120 posts / 20

    # Page 2 holds positions 21..40 from the newest, replies moved under their parent.
    expected = sorted((p.id for p in fake.posts["005930"]), reverse=True)[20:40]
    hidden = {p.id for p in fake.posts["005930"] if not p.cleanbot_passed}
    shown = []
    for tr in rows:
        link = tr.select_one("td.title a")
        if link is None:
            assert tr.select_one("td.title").get_text(strip=True).startswith(CLEANBOT_HIDDEN_TEXT)
            continue
        shown.append(int(link["href"].split("nid=")[1].split("&")[0]))
    assert sorted(shown, reverse=True) == [i for i in expected if i not in hidden]

    # Long titles are cut in the text, whole in the title attribute.
    all_pages = [requests.get(fake.base_url + "/item/board.nhn", params={"code": "005930", "page": n},
                              timeout=5).content.decode("cp949") for n in range(1, 7)]
    links = [a for page in all_pages for a in BeautifulSoup(page, "lxml").select("td.title a")]
    cut = [a for a in links if a.get_text().endswith("...")]
    assert cut and all(len(a["title"]) > 40 for a in cut)
    # Past the last page: the last page again.
    board = fake.base_url + "/item/board.naver"
    again = requests.get(board, params={"code": "005930", "page": 99}, timeout=5)
    assert again.content == requests.get(board, params={"code": "005930", "page": 6}, timeout=5).content


def test_fchart_has_halt_rows_and_is_adjusted(fake: FakeNaver) -> None:
    r = requests.get(fake.base_url + "/sise.nhn", params={"symbol": "005930", "timeframe": "day",
                                                         "count": 5000, "requestType": 0}, timeout=5)
    chart = _xml(r.content).find("chartdata")
    assert chart.get("name") == "삼성전자"
    items = [i.get("data").split("|") for i in chart.findall("item")]
    assert len(items) == len(fake.prices["005930"])
    assert [i[0] for i in items] == sorted(i[0] for i in items)
    halts = [i for i in items if i[5] == "0"]
    assert len(halts) == 1 and halts[0][1:4] == ["0", "0", "0"] and int(halts[0][4]) > 0
    assert max(int(i[4]) for i in items) < 200_000  # adjusted: no pre-split millions

    last3 = requests.get(fake.base_url + "/sise.nhn", params={"symbol": "005930", "timeframe": "day",
                                                             "count": 3, "requestType": 0}, timeout=5)
    assert len(_xml(last3.content).find("chartdata").findall("item")) == 3
    unknown = requests.get(fake.base_url + "/sise.nhn", params={"symbol": "123456", "timeframe": "day",
                                                               "count": 3, "requestType": 0}, timeout=5)
    assert _xml(unknown.content).find("chartdata").findall("item") == []


def test_sise_json_adjusted_and_sise_day_raw(fake: FakeNaver) -> None:
    split = fake.split_date["005930"]
    r = requests.get(fake.base_url + "/siseJson.naver", params={
        "symbol": "005930", "requestType": 1, "startTime": "20240101", "endTime": split.strftime("%Y%m%d"),
        "timeframe": "day"}, timeout=5)
    table = ast.literal_eval(r.text.strip())
    assert table[0][0] == "날짜" and table[1][0] == "20240102"
    assert table[-1][0] == split.strftime("%Y%m%d")

    # The oldest sise_day page holds 2024-01-02 in raw (50x) prices.
    sise_day = fake.base_url + "/item/sise_day.naver"
    first = requests.get(sise_day, params={"code": "005930", "page": 1}, timeout=5)
    last_page = int(BeautifulSoup(first.content, "lxml").select_one("td.pgRR a")["href"].split("page=")[1])
    old = requests.get(sise_day, params={"code": "005930", "page": last_page}, timeout=5)
    soup = BeautifulSoup(old.content.decode("cp949"), "lxml")
    rows = soup.select("table.type2 tr[onmouseover]")
    cells = [td.get_text(strip=True) for td in rows[-1].find_all("td")]
    assert cells[0] == "2024.01.02"
    assert int(cells[1].replace(",", "")) == table[1][4] * 50
    newest = BeautifulSoup(first.content, "lxml").select("table.type2 tr[onmouseover]")
    assert len(newest) == 10 and newest[0].select_one("em.bu_p span.blind, span.tah")


def test_faults_fire_exactly_times(fake: FakeNaver) -> None:
    url = fake.base_url + LIST_PATH
    params = _list_params("005930", 5)
    fake.inject(LIST_PATH, "status", times=2, code=503)
    fake.inject(LIST_PATH, "rate_limit", retry_after=2)
    fake.inject(LIST_PATH, "malformed")
    fake.inject(LIST_PATH, "empty")
    fake.inject(LIST_PATH, "drop")
    fake.inject(LIST_PATH, "slow", seconds=0.3)
    codes = [requests.get(url, params=params, timeout=5).status_code for _ in range(2)]
    assert codes == [503, 503]
    limited = requests.get(url, params=params, timeout=5)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    broken = requests.get(url, params=params, timeout=5)
    with pytest.raises(ValueError):
        broken.json()
    assert requests.get(url, params=params, timeout=5).content == b""
    with pytest.raises(requests.ConnectionError):
        requests.get(url, params=params, timeout=5)
    started = time.monotonic()
    assert requests.get(url, params=params, timeout=5).json()["isSuccess"] is True
    assert time.monotonic() - started >= 0.3
    assert requests.get(url, params=params, timeout=5).status_code == 200
    assert len(fake.requests_log) == 8 and len(fake.faults_served) == 7
    assert fake.list_requests() == 2  # only the slow one and the last one were real answers

    fake.inject("/item/board.naver", "malformed")
    page = requests.get(fake.base_url + "/item/board.naver", params={"code": "005930"}, timeout=5)
    assert page.status_code == 200 and "type2" not in page.content.decode("cp949")
    fake.inject("/sise.nhn", "malformed")
    xml = requests.get(fake.base_url + "/sise.nhn", params={"symbol": "005930", "timeframe": "day",
                                                           "count": 10, "requestType": 0}, timeout=5)
    with pytest.raises(ET.ParseError):
        _xml(xml.content)


def test_robots_and_404(fake: FakeNaver) -> None:
    fake.robots_txt = "User-agent: *\nDisallow: /item/board.naver\n"
    assert "Disallow" in requests.get(fake.base_url + "/robots.txt", timeout=5).text
    assert requests.get(fake.base_url + "/nope", timeout=5).status_code == 404


def test_a_comment_signal_sits_before_the_open_and_the_answer_after_the_close() -> None:
    from datetime import datetime, time, timedelta

    fake = FakeNaver(seed=5, posts_per_ticker=200, first_post_at=datetime(2026, 9, 1, 8, 0),
                     post_spacing=timedelta(hours=3))
    planted = fake.plant_comment_signal(0.5, accuracy=1.0)
    assert planted > 20
    checked = 0
    for ticker, posts in fake.posts.items():
        sessions = [r for r in fake.prices[ticker] if r.volume > 0]
        for post in posts:
            thread = fake.visible_comments(post.id)
            if not thread or thread[0].user != "test****":
                continue
            k = next(i for i, r in enumerate(sessions) if datetime.combine(r.trade_date, time(9)) > post.written_at)
            opens, rose = datetime.combine(sessions[k].trade_date, time(9)), sessions[k].close > sessions[k].open
            view, answer = thread
            assert post.written_at < view.written_at < opens < answer.written_at and post.comment_count == 2
            assert (view.text.startswith(("저는 내일 반등", "여기서 추가", "바닥", "호재")) == rose)
            assert answer.text.startswith("오늘 올랐네요" if rose else "오늘 빠졌네요")
            assert post.body_text == "의견 부탁드립니다"
            checked += 1
    assert checked == planted
