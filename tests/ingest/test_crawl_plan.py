"""The daily crawl's budget, measured on a 200-board loopback Naver: a quiet day costs one board page
and two news pages (one more to see past the watermark) per ticker (robots.txt is read once, not once
per task), a busy board only the pages its new posts fill, and ``finsent crawl --plan`` prints the day
from those runs."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from finsent.cli import main
from finsent.config import load_settings
from finsent.db import raw_connection
from finsent.ingest.crawl import crawl_boards
from finsent.ingest.crawl_plan import build_plan, format_plan
from finsent.ingest.feeds.board_json import DEFAULT_PAGE_SIZE
from finsent.ingest.news_crawl import crawl_news
from finsent.loopback import FakeNaver
from finsent.loopback.news import NEWS_PREFIX
from finsent.orchestration.tasks import crawl_comments_ticker, crawl_news_ticker, crawl_ticker

log = logging.getLogger(__name__)

BOARDS = {f"{900000 + i:06d}": f"종목{i}" for i in range(200)}
LIST, ROBOTS = "/front-api/discussion/list", "/robots.txt"


@pytest.fixture
def boards(engine, monkeypatch):
    """200 boards of 60 posts over 20 days, registered and backfilled."""
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO tickers (code, name) SELECT * FROM unnest(%s::text[], %s::text[])",
                             (list(BOARDS), list(BOARDS.values())))
    now = datetime.now().replace(microsecond=0)
    with FakeNaver(tickers=BOARDS, posts_per_ticker=60, first_post_at=now - timedelta(days=20),
                   post_spacing=timedelta(hours=8)) as fake:
        for key in ("BOARD", "PRICE", "LEGACY", "API", "NEWS", "COMMENTS"):
            monkeypatch.setenv(f"FINSENT_NAVER_{key}_URL", fake.base_url)
        reports = crawl_boards(load_settings(), engine, list(BOARDS), since=date(2000, 1, 1), workers=4)
        assert all(r.ok for r in reports)
        yield fake


def requests_by_path(fake: FakeNaver, since: int) -> Counter:
    return Counter(path for path, _ in fake.requests_log[since:])


def daily_run(fake: FakeNaver) -> Counter:
    """The DAG's day: one crawl task (its own client, as its own process would have) per ticker."""
    start = len(fake.requests_log)
    for ticker in BOARDS:
        crawl_ticker(ticker)
    return requests_by_path(fake, start)


def test_a_quiet_day_costs_one_page_per_board_and_the_plan_says_so(engine, boards, capsys):
    for ticker in BOARDS:
        boards.add_posts(ticker, 3)
    day = daily_run(boards)
    assert day[LIST] == len(BOARDS)  # stopped at what it had: one page per board
    assert day[ROBOTS] == 0  # the backfill's copy serves every task of the day (one process each in Airflow)
    (stored,), = engine.connect().exec_driver_sql("SELECT count(*) FROM posts").fetchall()
    assert stored == len(BOARDS) * 63

    with raw_connection(engine) as raw, raw.cursor() as cur:
        plan = build_plan(load_settings(), cur, len(BOARDS))
    boards_step = plan.steps[0]
    assert boards_step.step == "boards" and boards_step.per_ticker == pytest.approx(1.0)
    assert "measured" in boards_step.basis and "over 200 runs" in boards_step.basis
    assert plan.requests(boards_step) == 201  # a page a board and robots.txt
    log.info("200-board loopback, a quiet day:\n%s", format_plan(plan))

    assert main(["crawl", "--plan", "--tickers", ",".join(BOARDS)]) == 0
    printed = capsys.readouterr().out
    assert "200 tickers" in printed and "boards" in printed and "fits" in printed


def test_a_busy_board_costs_only_the_pages_its_new_posts_fill(engine, boards):
    busy, quiet = list(BOARDS)[:2]
    boards.add_posts(busy, 2 * DEFAULT_PAGE_SIZE + 20)
    start = len(boards.requests_log)
    crawl_ticker(busy)
    crawl_ticker(quiet)
    pages = Counter(query["itemCode"] for path, query in boards.requests_log[start:] if path == LIST)
    assert pages == {busy: 3, quiet: 1}


def test_the_plan_without_runs_assumes_a_page_a_board_and_scales_with_the_delay(engine, monkeypatch):
    monkeypatch.setenv("FINSENT_CRAWL_DELAY_S", "1")
    monkeypatch.setenv("FINSENT_NAVER_POOL_SLOTS", "4")
    with raw_connection(engine) as raw, raw.cursor() as cur:
        plan = build_plan(load_settings(), cur, 200)
    assert plan.slots == 4 and [s.step for s in plan.steps] == ["boards", "prices", "news", "counts", "comments"]
    # 200 x one board page, one price fetch and two news pages, and each host's robots.txt
    assert sum(plan.seconds(s) for s in plan.steps[:3]) == pytest.approx(201 + 201 + 401)
    assert "assumed" in plan.steps[0].basis and "assumed" in plan.steps[2].basis
    # comments, assumed: 100 posts a ticker a day, 34% with comments; counts for 3 days' posts (15
    # requests), a CBOX page for each of twice a day's commented posts (68): 200 tickers do not fit at 1 s
    counts, comments = plan.steps[3:]
    assert (counts.per_ticker, comments.per_ticker) == (pytest.approx(15), pytest.approx(68))
    assert plan.requests(comments) == pytest.approx(200 * 68 + 1) and not plan.fits
    assert "--days" in format_plan(plan)
    monkeypatch.setenv("FINSENT_CRAWL_DELAY_S", "0.3")  # 17,404 requests at 0.3 s: 1.45 hours
    with raw_connection(engine) as raw, raw.cursor() as cur:
        assert build_plan(load_settings(), cur, 200).fits


def test_a_quiet_news_day_costs_two_news_pages_per_ticker_and_the_plan_measures_it(engine, boards):
    settings = load_settings()
    assert all(r.ok for r in crawl_news(settings, engine, list(BOARDS), since=date(2000, 1, 1), workers=4))
    for ticker in BOARDS:
        boards.add_news(ticker, 2)
    start = len(boards.requests_log)
    for ticker in BOARDS:  # the DAG's day: one crawl_news task per ticker
        crawl_news_ticker(ticker)
    day = Counter(path.startswith(NEWS_PREFIX) for path, _ in boards.requests_log[start:])
    # the page with the new stories, then one whole page older than the watermark (a cluster may carry an
    # article newer than its place in the list, so the walk reads one page past it)
    assert day[True] == 2 * len(BOARDS) and requests_by_path(boards, start)[ROBOTS] == 0
    with raw_connection(engine) as raw, raw.cursor() as cur:
        plan = build_plan(settings, cur, len(BOARDS))
    news_step = plan.steps[2]
    assert news_step.step == "news" and news_step.per_ticker == pytest.approx(2.0)
    assert plan.requests(news_step) == 401  # two pages a ticker and robots.txt
    log.info("200-ticker loopback news, a quiet day:\n%s", format_plan(plan))
    assert "measured" in news_step.basis and "over 200 runs" in news_step.basis


def test_the_comment_steps_are_measured_from_the_comment_crawls(engine, boards):
    """The day's comment crawl of 200 boards: one counts request a ticker (its posts of 3 days fit in
    one), and a CBOX page for each thread that grew since the last run; the plan reads both back."""
    settings = load_settings()
    for ticker in BOARDS:  # the first run (a ticker's backfill of threads) is left out of the measure
        crawl_comments_ticker(ticker)
    grown = [p for t in list(BOARDS)[:50] for p in boards.posts[t][-2:]]
    for post in grown:
        boards.add_comments(post.id, 1)
    start = len(boards.requests_log)
    for ticker in BOARDS:
        crawl_comments_ticker(ticker)
    day = requests_by_path(boards, start)
    assert day["/commentBox/cbox/web_naver_list_jsonp.json"] == len(grown)
    assert day["/front-api/discussion/comment/counts"] == len(BOARDS)
    with raw_connection(engine) as raw, raw.cursor() as cur:
        plan = build_plan(settings, cur, len(BOARDS))
    counts, comments = plan.steps[3:]
    assert counts.per_ticker == pytest.approx(1.0) and comments.per_ticker == pytest.approx(len(grown) / len(BOARDS))
    assert "measured" in comments.basis and "over 200 runs" in comments.basis
    log.info("200-board loopback, a day of comments:\n%s", format_plan(plan))
