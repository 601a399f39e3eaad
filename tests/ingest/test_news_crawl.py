"""``finsent crawl --source naver-news`` against a real Postgres and the loopback Naver's news."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from finsent.cli import main
from finsent.config import load_settings
from finsent.db import advisory_lock
from finsent.ingest.news_crawl import crawl_news
from finsent.ingest.records import KST
from tests.ingest.helpers import count, expected_news, expected_stories, stored_news, stored_stories

SAMSUNG, HYNIX = "005930", "000660"
NEWS = f"/api/news/stock/{SAMSUNG}"
LONG_AGO = date(2000, 1, 1)


def crawl(engine, tickers=(SAMSUNG,), **kwargs):
    reports = crawl_news(load_settings(), engine, list(tickers), workers=1, **kwargs)
    return {r.ticker: r for r in reports}


def assert_exact(engine, naver, ticker):
    assert stored_news(engine, ticker) == expected_news(naver, ticker)
    assert stored_stories(engine, ticker) == expected_stories(naver, ticker)


def test_full_walk_stores_every_article_once_under_faults(engine, naver):
    naver.inject(NEWS, "status", times=2, code=503)
    naver.inject(NEWS, "rate_limit", retry_after=0)
    naver.inject(NEWS, "drop")
    naver.inject(NEWS, "status", code=500)
    report = crawl(engine, (SAMSUNG, HYNIX), since=LONG_AGO)
    assert report[SAMSUNG].status == "ok" and report[HYNIX].status == "ok"
    assert report[SAMSUNG].retries == 5 and report[SAMSUNG].failures == 0
    for ticker in (SAMSUNG, HYNIX):
        assert_exact(engine, naver, ticker)
        served = sum(len(c) for c in naver.news[ticker])
        assert report[ticker].inserted == len(naver.all_articles(ticker)) < served  # some came twice
        assert report[ticker].fetched == served and report[ticker].duplicates == served - report[ticker].inserted
    # a market summary is one article tagged to both stocks: one row per ticker
    market = next(iter(naver.market_articles))
    assert count(engine, "SELECT count(*) FROM news WHERE office_id = :o AND article_id = :a",
                 o=market.office_id, a=market.article_id) == 2
    assert count(engine, "SELECT count(*) FROM crawl_runs WHERE command = 'crawl-news' AND status = 'ok' "
                         "AND source = 'naver-news'") == 2


def test_titles_are_unescaped_and_times_read_as_kst(engine, naver):
    crawl(engine, since=LONG_AGO)
    assert count(engine, "SELECT count(*) FROM news WHERE title LIKE '%&quot;%' OR title LIKE '%&amp;%' "
                         "OR title LIKE '%&apos;%' OR title LIKE '%&lt;%'") == 0
    assert count(engine, "SELECT count(*) FROM news WHERE title LIKE '%\"신고가\"%'") > 0
    assert count(engine, "SELECT count(*) FROM news WHERE title LIKE '%R&D%'") > 0
    # an article at 00:05 KST is 15:05 UTC the day before
    midnight = next(a for a in naver.all_articles(SAMSUNG).values() if a.published_at.hour == 0)
    with engine.connect() as conn:
        import sqlalchemy as sa

        utc = conn.execute(sa.text("SELECT published_at AT TIME ZONE 'UTC' FROM news WHERE office_id = :o AND "
                                   "article_id = :a"), {"o": midnight.office_id, "a": midnight.article_id}).scalar()
    assert utc == midnight.published_at - timedelta(hours=9)
    assert count(engine, "SELECT count(*) FROM news WHERE article_url = 'https://n.news.naver.com/mnews/article/' "
                         "|| office_id || '/' || article_id") == len(naver.all_articles(SAMSUNG))


def test_stories_arriving_mid_walk_shift_pages_without_losing_or_doubling(engine, naver):
    naver.arrive_news_during_crawl(SAMSUNG, 25, after_requests=1)  # pushes clusters onto later pages mid-walk
    first = crawl(engine, since=LONG_AGO)[SAMSUNG]
    assert first.status == "ok" and first.duplicates > 0
    second = crawl(engine)[SAMSUNG]
    assert second.status == "ok" and second.inserted > 0  # the new stories, above where the walk began
    assert_exact(engine, naver, SAMSUNG)
    assert count(engine, "SELECT count(*) - count(DISTINCT (office_id, article_id)) FROM news") == 0


def test_incremental_run_reads_only_the_top_and_stores_only_what_is_new(engine, naver):
    crawl(engine, since=LONG_AGO)
    before = naver.news_requests()
    again = crawl(engine)[SAMSUNG]
    assert again.inserted == 0 and again.pages <= 2 and naver.news_requests() - before == again.pages
    added = naver.add_news(SAMSUNG, 4)
    report = crawl(engine)[SAMSUNG]
    assert report.inserted == len({(a.office_id, a.article_id) for c in added for a in c}) and report.pages <= 2
    assert_exact(engine, naver, SAMSUNG)


def test_first_run_goes_back_backfill_days(engine, naver, monkeypatch):
    monkeypatch.setenv("FINSENT_BACKFILL_DAYS", "10")
    crawl(engine)
    floor = datetime.now(KST) - timedelta(days=10)
    stored = {row[1:3] for row in stored_news(engine, SAMSUNG)}
    recent = {k for k, a in naver.all_articles(SAMSUNG).items() if a.published_at.replace(tzinfo=KST) >= floor}
    assert recent and recent <= stored and len(stored) < len(naver.all_articles(SAMSUNG))


def test_max_pages_caps_a_run_and_the_next_run_resumes(engine, naver):
    first = crawl(engine, since=LONG_AGO, max_pages=1)[SAMSUNG]
    assert (first.status, first.pages) == ("ok", 1)
    assert count(engine, "SELECT count(*) FROM news_watermarks WHERE resume_page = 2") == 1
    naver.add_news(SAMSUNG, 3)
    assert crawl(engine)[SAMSUNG].status == "ok"
    assert_exact(engine, naver, SAMSUNG)
    assert count(engine, "SELECT count(*) FROM news_watermarks WHERE resume_page IS NOT NULL") == 0


@pytest.mark.parametrize("kind", ["malformed", "empty"])
def test_a_broken_page_is_quarantined_and_writes_nothing(engine, naver, settings, kind):
    crawl(engine, since=LONG_AGO, max_pages=1)
    before = stored_news(engine, SAMSUNG)
    naver.inject(NEWS, kind)
    report = crawl(engine, (SAMSUNG, HYNIX))
    assert report[SAMSUNG].status == "failed" and report[HYNIX].status == "ok"
    assert "could not parse http://127.0.0.1" in report[SAMSUNG].error and NEWS in report[SAMSUNG].error
    assert stored_news(engine, SAMSUNG) == before
    raw = list(settings.quarantine_dir.glob(f"naver-news_{SAMSUNG}_*.raw"))
    assert len(raw) == 1 and str(raw[0]) in report[SAMSUNG].error
    assert crawl(engine)[SAMSUNG].status == "ok"  # the open walk resumes and completes
    assert_exact(engine, naver, SAMSUNG)


def test_robots_and_the_board_lock(engine, naver, caplog, monkeypatch):
    from finsent.ingest import robots

    naver.robots_txt = "User-agent: *\nDisallow: /api/news/\n"
    report = crawl(engine, since=LONG_AGO)[SAMSUNG]
    assert report.status == "failed" and "robots.txt" in report.error
    assert count(engine, "SELECT count(*) FROM news") == 0
    naver.robots_txt = "User-agent: *\nAllow: /\n"
    monkeypatch.setattr(robots, "ROBOTS_CACHE_TTL_S", 0.0)  # the shared copy's hour is over: read it again
    # a board crawl of the same ticker holds its own lock: news runs beside it; a second news run does not
    with advisory_lock(engine, f"crawl:{SAMSUNG}"):
        assert crawl(engine, since=LONG_AGO)[SAMSUNG].status == "ok"
    with advisory_lock(engine, f"crawl-news:{SAMSUNG}"):
        assert crawl(engine)[SAMSUNG].status == "locked"


def test_cli_crawls_news(engine, naver, capsys):
    assert main(["crawl", "--source", "naver-news", "--tickers", SAMSUNG, "--since", "2000-01-01"]) == 0
    assert "1/1 ok" in capsys.readouterr().out
    assert_exact(engine, naver, SAMSUNG)
    assert main(["crawl", "--source", "naver-news", "--tickers", "999999"]) == 2


def test_host_setting_is_its_own(engine, naver, monkeypatch):
    monkeypatch.setenv("FINSENT_NAVER_NEWS_URL", "http://127.0.0.1:9")  # nothing listens: the news host only
    monkeypatch.setenv("FINSENT_HTTP_RETRIES", "0")
    assert crawl(engine, since=LONG_AGO)[SAMSUNG].status == "failed"
    monkeypatch.delenv("FINSENT_NAVER_NEWS_URL")
    assert load_settings().naver_news_url == "https://m.stock.naver.com"


def test_the_demo_news_carries_a_planted_signal_of_its_own():
    import bisect
    from datetime import time

    from finsent.loopback import FakeNaver

    fake = FakeNaver(tickers={SAMSUNG: "삼성전자"}, posts_per_ticker=300, first_post_at=datetime(2025, 1, 2, 8),
                     post_spacing=timedelta(hours=20), stories_per_ticker=200)
    planted = fake.plant_news_signal(1.0, accuracy=0.8)
    sessions = [r for r in fake.prices[SAMSUNG] if r.volume > 0]
    opens = [datetime.combine(r.trade_date, time(9)) for r in sessions]
    up_phrases = ("수주 기대에 강세 전망", "실적 서프라이즈 예상", "목표주가 상향")
    down_phrases = ("실적 부진 우려에 약세", "대규모 매도 물량 부담", "목표주가 하향")
    right = total = 0
    for cluster in fake.news[SAMSUNG]:
        phrase = cluster[0].title.removeprefix("삼성전자 ")
        if phrase in up_phrases + down_phrases:
            k = bisect.bisect_right(opens, cluster[0].published_at)
            right += (sessions[k].close > sessions[k].open) == (phrase in up_phrases)
            total += 1
    assert planted > 100 and total > 100 and 0.7 < right / total < 0.9
    # one article keeps one title in every cluster that carries it
    titles: dict = {}
    for cluster in fake.news[SAMSUNG]:
        for a in cluster:
            assert titles.setdefault((a.office_id, a.article_id), a.title) == a.title
