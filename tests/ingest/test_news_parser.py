"""The §3b news parser: pure, on hand-written answers and (when present) real saved ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from finsent.errors import PageParseError
from finsent.ingest.feeds.news_json import parse_news_page, published_at
from finsent.ingest.records import KST

URL = "https://m.stock.naver.com/api/news/stock/005930?pageSize=20&page=1"


def item(office="015", article="0005012345", when="202609101805", title="제목", **extra):
    return {"officeId": office, "articleId": article, "datetime": when, "title": title, **extra}


def page(*clusters):
    return json.dumps([{"total": len(c), "items": list(c)} for c in clusters], ensure_ascii=False).encode()


def test_clusters_are_flattened_and_entities_unescaped():
    body = page([item(title="삼성 &quot;신고가&quot; &amp; 외인 &apos;매수&apos; &lt;속보&gt;", officeName="한국경제",
                      body="요약 &amp; <b>본문</b>"),
                 item(office="009", article="0000000001", when="202609101807", title="재송고…")])
    parsed = parse_news_page(body, URL, "005930")
    first, second = parsed.articles
    assert first.title == "삼성 \"신고가\" & 외인 '매수' <속보>"
    assert first.summary == "요약 & 본문" and first.office_name == "한국경제"
    assert second.office_name is None and second.summary is None
    assert first.story_key == second.story_key == "009/0000000001"  # the smallest key of the story
    assert (parsed.clusters, parsed.repeats) == (1, 0)


def test_times_are_kst():
    assert published_at("202609100005") == datetime(2026, 9, 10, 0, 5, tzinfo=KST)
    assert published_at("20260910000530") == datetime(2026, 9, 10, 0, 5, 30, tzinfo=KST)
    assert published_at("2026-09-10T00:05:00+00:00") == datetime(2026, 9, 10, 9, 5, tzinfo=KST)
    utc = published_at("202609100005").astimezone(UTC)
    assert utc == datetime(2026, 9, 9, 15, 5, tzinfo=UTC)
    for bad in ("2026091000", "20261310 0005", "", None, 202609100005):
        with pytest.raises(ValueError):
            published_at(bad)


def test_an_article_in_two_clusters_is_one_row_and_joins_the_stories():
    shared = item(office="001", article="0000000100", when="202609101700")
    body = page([item(office="015", article="0000000300", when="202609101800"), shared],
                [item(office="009", article="0000000200", when="202609101750")], [shared])
    parsed = parse_news_page(body, URL, "005930")
    assert len(parsed.articles) == 3 and parsed.repeats == 1 and parsed.clusters == 3
    keys = {r.article_id: r.story_key for r in parsed.articles}
    assert keys == {"0000000300": "001/0000000100", "0000000100": "001/0000000100", "0000000200": "009/0000000200"}


def test_numeric_ids_keep_their_documented_width():
    row = parse_news_page(page([item(office=15, article=5012345)]), URL, "005930").articles[0]
    assert (row.office_id, row.article_id) == ("015", "0005012345")


def test_the_end_of_the_list_is_an_empty_array():
    parsed = parse_news_page(b"[]", URL, "005930")
    assert (parsed.clusters, parsed.articles) == (0, [])


@pytest.mark.parametrize("body, reason", [
    (b"", "empty body"),
    (b"[{\"total\": 1, \"items\": [", "not JSON"),
    (b"{\"isSuccess\": true}", "not a JSON array"),
    (b"[{\"total\": 1}]", "cluster [0] has no items list"),
    (page([item(), {"officeId": "015", "articleId": "1", "title": "시간 없음"}]), "cluster [0] item [1]: KeyError"),
    (page([item(office="01a")]), "officeId"),
    (page([item(when="2026-13-45")]), "datetime"),
    (page([item(title=None)]), "title"),
    (page([item(), "not an object"]), "is not an object"),
])
def test_deviations_fail_loudly_naming_where(body, reason):
    with pytest.raises(PageParseError) as error:
        parse_news_page(body, URL, "005930")
    assert reason in str(error.value) and URL in str(error.value)


def test_real_saved_answers_parse(samples):
    files = sorted(samples.glob("news*.json"))
    if not files:
        pytest.skip("no saved news answers among the samples")
    for path in files:
        parsed = parse_news_page(path.read_bytes(), str(path), "005930")
        assert parsed.articles, path
        for row in parsed.articles:
            assert "&quot;" not in row.title and "&amp;" not in row.title
            assert row.published_at.utcoffset() == timedelta(hours=9)
            assert row.office_id.isdigit() and row.article_id.isdigit()
