"""Hostile feeds (issue 32): the real crawler against the loopback Naver's injectable faults.

One bad record never blocks a board (it is quarantined, its page's others stored); an article dated
ahead never hides the list behind it; a dripping answer, a looping list or a long Retry-After never
hangs a crawl; redirects are followed by finsent's own rules; credentials never leave the URL.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta

import pytest

from finsent.cli import main
from finsent.config import load_settings
from finsent.ingest.crawl import crawl_boards
from finsent.ingest.news_crawl import crawl_news
from finsent.ingest.records import KST
from finsent.ingest.runs import format_table
from finsent.loopback import FakeNaver
from finsent.loopback.truth import stored_post_row
from tests.ingest.helpers import count, expected_news, stored_news, stored_posts

SAMSUNG, HYNIX = "005930", "000660"
LIST = "/front-api/discussion/list"
NEWS = f"/api/news/stock/{SAMSUNG}"
LONG_AGO = date(2000, 1, 1)
HUGE = "떡상" * 100_000  # 200,000 characters: a broken or hostile answer, not a title


def board(engine, tickers=(SAMSUNG,), **kwargs):
    return {r.ticker: r for r in crawl_boards(load_settings(), engine, list(tickers), workers=1, **kwargs)}


def news(engine, tickers=(SAMSUNG,), **kwargs):
    return {r.ticker: r for r in crawl_news(load_settings(), engine, list(tickers), workers=1, **kwargs)}


def refused(settings, source: str) -> list[dict]:
    """Every record the quarantine holds for ``source`` (from the .meta.json files)."""
    metas = [json.loads(p.read_text()) for p in settings.quarantine_dir.glob(f"{source}_{SAMSUNG}_*.meta.json")]
    return [record for meta in metas for record in meta.get("refused", [])]


def ahead(**delta) -> datetime:
    return datetime.now(KST) + timedelta(**delta)


# --- one bad record never blocks a board (#2, #11) ------------------------------------------------------

BAD_POSTS = {
    "lone surrogate": ({"title": "\ud83d 떡상 가즈아"}, "lone surrogate (U+D83D"),
    "empty title": ({"title": "  "}, "title is empty"),
    "dated 1900": ({"writtenAt": "1900-01-01T09:00:00"}, "before 1999-06-02"),
    "huge title": ({"title": HUGE}, "at most 1,000"),
    "days ahead": ({"writtenAt": ahead(days=3).strftime("%Y-%m-%dT%H:%M:%S")}, "more than a day ahead"),
}


@pytest.mark.parametrize("fields, reason", BAD_POSTS.values(), ids=BAD_POSTS.keys())
def test_a_bad_post_is_quarantined_and_the_rest_of_its_page_stored(engine, naver, settings, caplog, fields,
                                                                    reason):
    naver.inject(LIST, "poison", times=1000, index=3, fields=fields)  # the fourth post of every page, every run
    first = board(engine, since=LONG_AGO)[SAMSUNG]
    assert (first.status, first.pages, first.quarantined) == ("ok", 4, 3), first.error  # 50+50+20, then the end
    refusals = refused(settings, "naver-mobile")
    assert len(refusals) == 3 and all(reason in r["reason"] for r in refusals)
    bad_ids = {int(r["key"].removeprefix("post ")) for r in refusals}
    expected = sorted(stored_post_row(p) for p in naver.posts[SAMSUNG] if p.id not in bad_ids)
    assert stored_posts(engine, SAMSUNG) == expected  # every other post of those pages
    assert first.inserted == 117 and any(reason in note for note in first.notes)
    # not the same failure every run: the next run reads the top page, refuses that post again, goes on
    second = board(engine)[SAMSUNG]
    assert (second.status, second.inserted, second.quarantined) == ("ok", 0, 1)
    assert "Traceback" not in caplog.text


BAD_ARTICLES = {
    "lone surrogate": ({"title": "\udc00삼성전자 신고가"}, "lone surrogate (U+DC00"),
    "empty title": ({"title": ""}, "title is empty"),
    "dated 1900": ({"datetime": "190001010900"}, "before 1999-06-02"),
    "huge title": ({"title": HUGE}, "at most 1,000"),
    "days ahead": ({"datetime": ahead(days=3).strftime("%Y%m%d%H%M")}, "more than a day ahead"),
}


@pytest.mark.parametrize("fields, reason", BAD_ARTICLES.values(), ids=BAD_ARTICLES.keys())
def test_a_bad_article_is_quarantined_and_the_rest_of_its_page_stored(engine, naver, settings, caplog, fields,
                                                                       reason):
    naver.inject(NEWS, "poison", times=1000, fields=fields)  # the first article of every page, every run
    first = news(engine, since=LONG_AGO)[SAMSUNG]
    assert first.status == "ok" and first.quarantined == first.pages - 1, first.error  # the last page is empty
    refusals = refused(settings, "naver-news")
    assert len(refusals) == first.quarantined and all(reason in r["reason"] for r in refusals)
    bad = {tuple(r["key"].removeprefix("article ").split("/")) for r in refusals}
    stored = stored_news(engine, SAMSUNG)
    assert stored and set(stored) <= set(expected_news(naver, SAMSUNG))  # the others, as served
    assert {row[1:3] for row in stored} | bad == set(naver.all_articles(SAMSUNG))
    second = news(engine)[SAMSUNG]
    assert second.status == "ok" and second.quarantined >= 1 and second.inserted == 0
    assert "Traceback" not in caplog.text


def test_the_importer_and_the_crawler_refuse_the_same_records(engine, tmp_path):
    from finsent.ingest.importer import parse_news_record, parse_post_record

    now = datetime.now(KST)
    for title, when in (("", "2024-01-02 10:00"), ("x" * 1001, "2024-01-02 10:00"), ("제목", "1900-01-01 10:00"),
                        ("제목", (now + timedelta(days=2)).strftime("%Y-%m-%d %H:%M"))):
        with pytest.raises(ValueError):
            parse_post_record({"ticker": SAMSUNG, "post_id": "1", "posted_at": when, "title": title}, now)
        with pytest.raises(ValueError):
            parse_news_record({"ticker": SAMSUNG, "office_id": "015", "article_id": "1", "published_at": when,
                               "title": title}, now)


# --- an article dated ahead never hides the list behind it (#6) -----------------------------------------

def test_an_article_dated_hours_ahead_is_stored_but_never_becomes_the_watermark(engine, naver, settings):
    early = ahead(hours=6)
    naver.inject(NEWS, "poison", fields={"datetime": early.strftime("%Y%m%d%H%M")})  # page 1 of the first walk
    assert news(engine, since=LONG_AGO)[SAMSUNG].status == "ok"
    assert count(engine, "SELECT count(*) FROM news_watermarks WHERE newest_published_at > now()") == 0
    # a clock may run ahead: the article is stored with its time (an import takes it too), not quarantined
    assert count(engine, "SELECT count(*) FROM news WHERE published_at > now()") == 1
    assert not list(settings.quarantine_dir.glob("*.raw"))
    added = naver.add_news(SAMSUNG, 45)  # more than two pages of new stories
    second = news(engine)[SAMSUNG]
    assert second.status == "ok" and second.pages >= 3
    stored = {row[1:3] for row in stored_news(engine, SAMSUNG)}
    assert {(a.office_id, a.article_id) for c in added for a in c} <= stored  # none hidden behind tomorrow


# --- nothing hangs (#8) ---------------------------------------------------------------------------------

def test_a_dripping_answer_is_cut_at_the_deadline_and_retried(engine, naver, monkeypatch):
    monkeypatch.setenv("FINSENT_HTTP_TIMEOUT_S", "1")
    naver.inject(LIST, "drip", chunk=200, interval=0.05)  # ~30 kB at 4 kB/s: every read is quick, the whole is not
    started = time.monotonic()
    report = board(engine, since=LONG_AGO)[SAMSUNG]
    assert report.status == "ok" and report.retries == 1
    assert time.monotonic() - started < 5
    assert len(stored_posts(engine, SAMSUNG)) == len(naver.posts[SAMSUNG])


def test_a_board_whose_pages_alternate_ends_its_walk(engine, naver):
    naver.inject(LIST, "cursor_loop", after=2, times=1000)  # the third page points back to the second's cursor
    report = board(engine, since=LONG_AGO, max_pages=50)[SAMSUNG]
    assert report.status == "ok" and report.pages == 3
    assert any("loops" in note for note in report.notes)
    assert set(stored_posts(engine, SAMSUNG)) <= {stored_post_row(p) for p in naver.posts[SAMSUNG]}
    assert count(engine, "SELECT count(*) FROM crawl_watermarks WHERE resume_cursor IS NOT NULL") == 0


def test_a_news_list_whose_pages_alternate_ends_its_walk(engine, naver):
    naver.inject(NEWS, "page_loop", times=1000, period=2)  # page 3 is page 1 again, page 4 page 2, ...
    report = news(engine, since=LONG_AGO, max_pages=50)[SAMSUNG]
    assert report.status == "ok" and report.pages == 3
    assert any("loops" in note for note in report.notes)


def test_a_long_retry_after_fails_the_tickers_soft_and_says_what_it_waits_for(engine, naver, caplog):
    naver.inject(LIST, "rate_limit", retry_after=86_400)  # come back tomorrow
    started = time.monotonic()
    reports = board(engine, (SAMSUNG, HYNIX), since=LONG_AGO)
    assert time.monotonic() - started < 20
    assert reports[SAMSUNG].status == reports[HYNIX].status == "failed"
    assert "Retry-After" in reports[SAMSUNG].error and "FINSENT_HTTP_MAX_WAIT_S" in reports[SAMSUNG].error
    assert "held off for another" in reports[HYNIX].error  # no request: the host asked everyone to wait
    assert [path for path, _ in naver.requests_log].count(LIST) == 1
    # the hold-off is capped (an hour), shared with every process, and the next one says so at once
    assert 3000 < count(engine, "SELECT extract(epoch FROM next_slot - now()) FROM host_clock") <= 3600
    assert main(["crawl", "--tickers", SAMSUNG]) == 1
    assert "held off for another" in caplog.text and time.monotonic() - started < 30


def test_a_short_retry_after_is_waited_for_and_logged(engine, naver, caplog, monkeypatch):
    monkeypatch.setenv("FINSENT_HTTP_MAX_WAIT_S", "5")
    naver.inject(LIST, "rate_limit", retry_after="Wed, 21 Oct 2015 07:28:00 GMT")  # an HTTP date, long past
    naver.inject(LIST, "rate_limit", retry_after=1)
    report = board(engine, since=LONG_AGO)[SAMSUNG]
    assert report.status == "ok" and report.retries == 2
    assert "waiting 1.0 s as it asks (Retry-After)" in caplog.text


# --- redirects by finsent's rules (#10) ---------------------------------------------------------------

@pytest.mark.parametrize("kind, options, message", [
    ("redirect", {"location": LIST, "times": 2}, "redirect loop"),
    ("redirect", {"location": "file:///etc/passwd"}, "only http(s) redirects that keep the scheme"),
    ("bad_gzip", {}, "does not decode as Content-Encoding gzip"),
], ids=["loop", "file", "gzip"])
def test_unusable_answers_are_quarantined_and_reported_without_a_traceback(engine, naver, settings, caplog, kind,
                                                                           options, message):
    naver.inject(LIST, kind, **options)
    report = board(engine, since=LONG_AGO)[SAMSUNG]
    assert report.status == "failed" and message in report.error and "raw body saved to" in report.error
    (raw,) = settings.quarantine_dir.glob(f"naver-mobile_{SAMSUNG}_*.raw")
    meta = json.loads(raw.with_suffix(".meta.json").read_text())
    assert message in meta["reason"] and str(raw) in report.error
    if kind == "bad_gzip":
        assert raw.read_bytes().startswith(b"\x1f\x8b")  # the bytes as they came, not decoded
    else:
        assert meta["redirects"][0].startswith(naver.base_url + LIST)
    assert "Traceback" not in caplog.text
    assert board(engine)[SAMSUNG].status == "ok"  # the next run, the fault gone, goes on


def test_a_redirect_to_another_host_goes_through_its_robots_and_its_clock(engine, naver):
    with FakeNaver(robots_txt="User-agent: *\nDisallow: /front-api/\n") as other:
        naver.inject(LIST, "redirect", to_base=other.base_url)
        report = board(engine, since=LONG_AGO)[SAMSUNG]
        assert report.status == "failed" and f"robots.txt of {other.base_url[7:]} disallows" in report.error
        assert [path for path, _ in other.requests_log] == ["/robots.txt"]
    with FakeNaver() as other:
        naver.inject(LIST, "redirect", to_base=other.base_url)
        assert board(engine, since=LONG_AGO)[SAMSUNG].status == "ok"
        assert [path for path, _ in other.requests_log] == ["/robots.txt", LIST]
        assert count(engine, "SELECT count(*) FROM host_clock WHERE host = :h", h=other.base_url[7:]) == 1


# --- credentials never leave the URL (#5) ---------------------------------------------------------------

def test_credentials_in_a_naver_url_are_masked_everywhere_they_are_kept(engine, naver, settings, monkeypatch,
                                                                          capsys):
    secret = "s3cr3t-pw"
    monkeypatch.setenv("FINSENT_NAVER_BOARD_URL", naver.base_url.replace("http://", f"http://crawler:{secret}@"))
    naver.inject(LIST, "malformed")
    failed = board(engine, since=LONG_AGO)[SAMSUNG]
    naver.inject(LIST, "status", code=404)
    rejected = board(engine, since=LONG_AGO)[SAMSUNG]
    naver.inject(LIST, "redirect", location="file:///x")
    redirected = board(engine, since=LONG_AGO)[SAMSUNG]
    assert all(r.status == "failed" for r in (failed, rejected, redirected))
    assert "crawler:***@" in failed.error and "crawler:***@" in rejected.error
    assert main(["crawl", "--tickers", SAMSUNG, "--since", "2000-01-01"]) == 0
    kept = [format_table([failed, rejected, redirected]), capsys.readouterr().out]
    with engine.connect() as conn:
        import sqlalchemy as sa

        kept += [str(row) for row in conn.execute(sa.text("SELECT error FROM crawl_runs"))]
        kept += [str(row) for row in conn.execute(sa.text("SELECT host FROM host_clock"))]
    kept += [p.read_text(errors="replace") for p in settings.data_dir.rglob("*.json")]  # quarantine, robots cache
    assert len(kept) > 7 and not [text for text in kept if secret in text]
