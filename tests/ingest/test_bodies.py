"""Bodies the list cuts or omits come from the detail endpoint, once, under faults and re-crawls."""

from __future__ import annotations

from datetime import date

from finsent.config import load_settings
from finsent.ingest.bodies import MAX_DETAIL_ATTEMPTS
from finsent.ingest.crawl import crawl_boards
from finsent.ingest.feeds.board_json import body_need, parse_detail
from finsent.loopback.truth import stored_post_row
from tests.ingest.helpers import count, stored_posts

DETAIL = "/front-api/discussion/detail"
SAMSUNG = "005930"
LONG_AGO = date(2000, 1, 1)


def crawl(engine, **kwargs):
    return crawl_boards(load_settings(), engine, [SAMSUNG], workers=1, **kwargs)[0]


def expected(naver):
    return sorted(stored_post_row(p) for p in naver.posts[SAMSUNG])


def details_asked(naver) -> int:
    return sum(1 for path, _ in naver.requests_log if path == DETAIL)


def test_cut_and_missing_bodies_are_completed_once_under_faults_and_recrawls(engine, naver):
    changed = [p for p in naver.cut_bodies(0.2, missing_share=0.1) if p.ticker == SAMSUNG]
    assert {p.list_body for p in changed} == {"cut", "missing"}
    naver.inject(DETAIL, "status", times=2, code=503)
    naver.inject(DETAIL, "drop")
    report = crawl(engine, since=LONG_AGO)
    assert report.status == "ok" and report.details == len(changed)
    assert stored_posts(engine, SAMSUNG) == expected(naver)  # every body whole, as the detail has it
    assert count(engine, "SELECT count(*) FROM post_body_fetches WHERE state = 'fetched'") == len(changed)
    asked = details_asked(naver)
    # a re-crawl of the whole board meets the cut bodies again and asks for none of them
    again = crawl(engine, since=LONG_AGO)
    assert (again.inserted, again.details) == (0, 0) and details_asked(naver) == asked
    assert stored_posts(engine, SAMSUNG) == expected(naver)


def test_a_detail_that_does_not_parse_is_quarantined_and_retried_by_the_next_crawl(engine, naver, settings):
    changed = [p for p in naver.cut_bodies(0.1) if p.ticker == SAMSUNG]
    newest = max(changed, key=lambda p: p.id)
    naver.inject(DETAIL, "malformed")  # the first detail asked for: the newest cut post
    first = crawl(engine, since=LONG_AGO)
    assert first.status == "ok"
    state = count(engine, "SELECT attempts * 10 + (state = 'pending')::int FROM post_body_fetches "
                          "WHERE post_id = :p", p=newest.id)
    assert state == 11  # tried once, still pending
    assert list(settings.quarantine_dir.glob("naver-detail_*.raw"))
    cut_body = count(engine, "SELECT body FROM posts WHERE post_id = :p", p=newest.id)
    assert cut_body.endswith("...")
    second = crawl(engine)
    assert second.details == 1
    assert stored_posts(engine, SAMSUNG) == expected(naver)
    assert count(engine, "SELECT count(*) FROM post_body_fetches WHERE state <> 'fetched'") == 0


def test_a_detail_that_keeps_failing_is_given_up_after_its_attempts(engine, naver):
    changed = [p for p in naver.cut_bodies(0.05) if p.ticker == SAMSUNG]
    oldest = min(changed, key=lambda p: p.id)
    for _ in range(MAX_DETAIL_ATTEMPTS):
        naver.inject(DETAIL, "malformed", times=len(changed))
        crawl(engine, since=LONG_AGO)
    assert count(engine, "SELECT state FROM post_body_fetches WHERE post_id = :p", p=oldest.id) == "failed"
    before = details_asked(naver)
    crawl(engine)
    assert details_asked(naver) == before  # given up: never asked again


def test_a_body_completed_after_the_quality_check_is_checked_again(engine, naver):
    from finsent.data.quality import check_quality

    changed = [p for p in naver.cut_bodies(0.1) if p.ticker == SAMSUNG]
    naver.inject(DETAIL, "status", times=100, code=500)  # every detail fails: bodies stay cut
    crawl(engine, since=LONG_AGO)
    check_quality(engine)
    checked = count(engine, "SELECT count(*) FROM post_quality")
    assert count(engine, "SELECT count(*) FROM post_body_fetches WHERE state = 'pending'") == len(changed)
    with naver.lock:
        naver._faults.clear()
    crawl(engine)
    assert count(engine, "SELECT count(*) FROM post_quality") == checked - len(changed)
    assert check_quality(engine).checked == len(changed)


def test_body_need_and_detail_parsing():
    long_cut = "가" * 40 + "..."
    assert body_need({"contentSwReplacedButImg": long_cut}) == "cut"
    assert body_need({"contentSwReplaced": "<p>" + long_cut + "</p>"}) == "cut"
    assert body_need({"contentSwReplacedButImg": "반등 가즈아..."}) is None  # a short post's own ellipsis
    assert body_need({"contentSwReplacedButImg": None}) == "missing"
    assert body_need({"contentSwReplacedButImg": ""}) is None
    ok = b'{"isSuccess": true, "result": {"title": "t", "contentHtml": "a<br>b &amp; c"}}'
    assert parse_detail(ok, "u") == "a\nb & c"
    import pytest

    from finsent.errors import PageParseError

    for bad in (b'{"isSuccess": false, "result": null}', b'{"isSuccess": true, "result": {"title": "t"}}', b"<html>"):
        with pytest.raises(PageParseError):
            parse_detail(bad, "u")
