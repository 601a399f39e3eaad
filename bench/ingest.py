"""Ingest benchmark: parse rates (JSON and legacy HTML pages, news pages) and insert rates into Postgres.

Compares, in one run and on the same rows:
- naive:    row-by-row INSERT ... ON CONFLICT with a commit per row (the obvious first crawler);
- bare COPY: one COPY straight into the keyed ``posts`` table (the ceiling: no dedupe, no bookkeeping);
- finsent:  the real crawl path (``finsent.ingest.store.insert_posts`` + watermark + crawl_runs counters, one
            transaction per batch), for crawler-sized pages and for import-sized batches.

News headlines (issue 20), beside the board's: parsing the list's story clusters, and storing the
articles (naive row-by-row inserts, bare COPY into ``news``, and ``insert_news`` with its watermark
and counters, per page and in import batches, and a re-crawl of duplicates).

    python bench/ingest.py [--posts 100000] [--news-stories 8000] [--database-url URL] [--tiny]

Without --database-url (or FINSENT_DATABASE_URL) it runs on an embedded Postgres with default settings.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, print_table, scratch_database, timed
from finsent.ingest import news_crawl
from finsent.ingest.crawl import Watermark, save_watermark
from finsent.ingest.feeds import board_html, board_json, news_json
from finsent.ingest.records import NEWS_COLUMNS, POST_COLUMNS, NewsRow, PostRow
from finsent.ingest.runs import RunRecord
from finsent.ingest.store import copy_news, copy_posts, insert_news, insert_posts
from finsent.loopback import FakeNaver

TICKERS = {"005930": "삼성전자", "000660": "SK하이닉스"}


def render_pages(fake: FakeNaver, ticker: str, json_pages: int, html_pages: int):
    json_bodies, cursor = [], None
    for _ in range(json_pages):
        _, _, body = fake.render(board_json.LIST_PATH, board_json.list_params(ticker, 50, cursor))
        json_bodies.append((body, cursor))
        cursor = board_json.parse_list_page(body, "bench", ticker, cursor).next_cursor
    html_bodies = [fake.render("/item/board.naver", board_html.list_params(ticker, n))
                   for n in range(1, html_pages + 1)]
    return json_bodies, html_bodies


def parse_json(bodies, ticker) -> int:
    return sum(len(board_json.parse_list_page(body, "bench", ticker, cursor).posts) for body, cursor in bodies)


def parse_html(bodies, ticker) -> int:
    return sum(len(board_html.parse_list_page(body, ct, "bench", ticker).posts) for _, ct, body in bodies)


def parse_html_soup(bodies, ticker) -> int:
    """The textbook baseline: BeautifulSoup over lxml, CSS selectors per row."""
    from bs4 import BeautifulSoup

    rows = 0
    for _, _, body in bodies:
        soup = BeautifulSoup(body.decode("cp949"), "lxml")
        for row in soup.select("table.type2 tr[onmouseover]"):
            link = row.select_one("td.title a")
            rows += link is not None and bool(link.get("title")) and bool(row.select_one("td.p11"))
    return rows


def truncate(engine) -> None:
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        cur.execute("TRUNCATE posts, news, crawl_watermarks, news_watermarks, crawl_runs")
    raw.commit()
    raw.close()


def naive_inserts(engine, rows: list[PostRow]) -> int:
    raw = engine.raw_connection()
    placeholders = ", ".join(["%s"] * len(POST_COLUMNS))
    sql = f"INSERT INTO posts ({', '.join(POST_COLUMNS)}) VALUES ({placeholders}) ON CONFLICT DO NOTHING"
    with raw.cursor() as cur:
        for row in rows:
            cur.execute(sql, row.as_tuple())
            raw.commit()
    raw.close()
    return len(rows)


def bare_copy(engine, rows: list[PostRow]) -> int:
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        cur.execute("SET synchronous_commit = off")  # same settings as the finsent path
        copy_posts(cur, "posts", rows)
    raw.commit()
    raw.close()
    return len(rows)


def finsent_path(engine, rows: list[PostRow], batch: int) -> int:
    """What a crawl does per page: insert (deduplicating), watermark and run counters, one commit."""
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        cur.execute("SET synchronous_commit = off")  # as the crawler's connection does
        run = RunRecord(cur, uuid.uuid4(), "crawl", "bench", "005930")
    raw.commit()
    for start in range(0, len(rows), batch):
        page = rows[start:start + batch]
        with raw.cursor() as cur:
            inserted = insert_posts(cur, page)
            run.counters.pages += 1
            run.counters.fetched += len(page)
            run.counters.inserted += inserted
            run.counters.duplicates += len(page) - inserted
            newest = max(page, key=lambda p: p.post_id)
            mark = Watermark(newest.post_id, newest.posted_at, None, "cursor", None, None)
            save_watermark(cur, "005930", "bench", mark)
            run.save(cur)
        raw.commit()
    raw.close()
    return len(rows)


# --- news ----------------------------------------------------------------------------------------------


def render_news(fake: FakeNaver, ticker: str) -> list[bytes]:
    """Every page of ``ticker``'s news list, as the server sends them (20 clusters a page)."""
    pages, number = [], 1
    while True:
        _, _, body = fake.render(news_json.list_path(ticker), news_json.list_params(number))
        if body.strip() == b"[]":
            return pages
        pages.append(body)
        number += 1


def parse_news(bodies: list[bytes], ticker: str) -> list[NewsRow]:
    return [row for body in bodies for row in news_json.parse_news_page(body, "bench", ticker).articles]


def naive_news(engine, rows: list[NewsRow]) -> int:
    raw = engine.raw_connection()
    sql = (f"INSERT INTO news ({', '.join(NEWS_COLUMNS)}) VALUES ({', '.join(['%s'] * len(NEWS_COLUMNS))}) "
           "ON CONFLICT DO NOTHING")
    with raw.cursor() as cur:
        for r in rows:
            cur.execute(sql, (r.ticker, r.office_id, r.article_id, r.published_at, r.title, r.summary,
                              r.office_name, r.story_key, r.source))
            raw.commit()
    raw.close()
    return len(rows)


def bare_news_copy(engine, rows: list[NewsRow]) -> int:
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        copy_news(cur, "news", {(r.office_id, r.article_id): r for r in rows}.values())
    raw.commit()
    raw.close()
    return len(rows)


def news_path(engine, rows: list[NewsRow], batch: int) -> int:
    """What a news crawl does per page: insert (deduplicating, merging stories), watermark, counters."""
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        run = RunRecord(cur, uuid.uuid4(), news_crawl.NEWS_COMMAND, "bench", "005930")
    raw.commit()
    for start in range(0, len(rows), batch):
        page = rows[start:start + batch]
        with raw.cursor() as cur:
            inserted = insert_news(cur, page)
            run.counters.pages += 1
            run.counters.fetched += len(page)
            run.counters.inserted += inserted
            newest = max(r.published_at for r in page)
            news_crawl.save_watermark(cur, "005930", news_crawl.NewsWatermark(newest, None, start + 2, newest))
            run.save(cur)
        raw.commit()
    raw.close()
    return len(rows)


def news_benchmarks(args: argparse.Namespace) -> None:
    fake = FakeNaver(tickers={"005930": "삼성전자"}, posts_per_ticker=10, stories_per_ticker=args.news_stories,
                     post_spacing=timedelta(hours=6 * args.news_stories / 10), first_post_at=datetime(2024, 1, 1))
    bodies = render_news(fake, "005930")
    parse_news(bodies[:5], "005930")  # warm up
    seconds, rows = timed(parse_news, bodies, "005930")
    served = sum(len(c) for c in fake.news["005930"])
    print_table("parsing news pages (pages/s; 20 story clusters a page)",
                [Result("parse news list pages (clusters flattened, deduplicated)", len(bodies), seconds, "p/s",
                        f"{served / seconds:,.0f} items/s, {len(rows):,} articles")])
    results = []
    with scratch_database(args.database_url) as engine:
        for name, fn, subset, kwargs in [
            ("naive: INSERT + COMMIT per article", naive_news, rows[: args.naive_posts], {}),
            ("bare COPY into keyed news (ceiling)", bare_news_copy, rows, {}),
            ("finsent path, one news page (~45 articles)", news_path, rows, {"batch": 45}),
            ("finsent path, import batches of 50,000 rows", news_path, rows, {"batch": 50_000}),
        ]:
            truncate(engine)
            seconds, _ = timed(fn, engine, subset, **kwargs)
            results.append(Result(name, len(subset), seconds, "r/s"))
        seconds, _ = timed(news_path, engine, rows, batch=45)  # the same articles again: all duplicates
        results.append(Result("finsent path, re-crawl (every article a duplicate)", len(rows), seconds, "r/s"))
    print_table("storing news articles (rows/s)", results, reference="bare COPY into keyed news (ceiling)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=100_000, help="rows for the insert benchmark")
    parser.add_argument("--naive-posts", type=int, default=5_000, help="rows for the (slow) naive baseline")
    parser.add_argument("--json-pages", type=int, default=400)
    parser.add_argument("--html-pages", type=int, default=100)
    parser.add_argument("--database-url", default=os.environ.get("FINSENT_DATABASE_URL"))
    parser.add_argument("--news-stories", type=int, default=8_000, help="story clusters for the news benchmark")
    parser.add_argument("--tiny", action="store_true", help="a few hundred rows: checks it runs (the suite)")
    args = parser.parse_args()
    if args.tiny:
        args.posts, args.naive_posts, args.json_pages, args.html_pages, args.news_stories = 1_000, 100, 4, 2, 120
    logging.basicConfig(level=logging.WARNING)

    print(f"generating {args.posts:,} synthetic posts ...", flush=True)
    fake = FakeNaver(tickers=TICKERS, posts_per_ticker=max(args.posts // 2, 600 if args.tiny else 12_000),
                     post_spacing=timedelta(seconds=40), first_post_at=datetime(2025, 1, 1))
    json_bodies, html_bodies = render_pages(fake, "005930", args.json_pages, args.html_pages)
    parse_json(json_bodies[:20], "005930"), parse_html(html_bodies[:5], "005930")  # warm up imports
    seconds, n_json = timed(parse_json, json_bodies, "005930")
    parse_results = [Result("parse JSON list pages (50 posts each)", len(json_bodies), seconds, "p/s",
                            f"{n_json / seconds:,.0f} posts/s")]
    seconds, n_html = timed(parse_html, html_bodies, "005930")
    parse_results.append(Result("parse legacy HTML pages (20 rows each, cp949)", len(html_bodies), seconds,
                                "p/s", f"{n_html / seconds:,.0f} posts/s"))
    seconds, _ = timed(parse_html_soup, html_bodies, "005930")
    parse_results.append(Result("  baseline: BeautifulSoup + CSS selectors", len(html_bodies), seconds, "p/s"))
    print_table("parsing (pages/s; goals: JSON >= 1,000, HTML >= 100)", parse_results)

    rows = [board_json.parse_post(board_json_post, t) for t, board_json_post in _raw_posts(fake, args.posts)]
    results = []
    with scratch_database(args.database_url) as engine:
        for name, fn, subset, kwargs in [
            ("naive: INSERT + COMMIT per row", naive_inserts, rows[: args.naive_posts], {}),
            ("bare COPY into keyed posts (ceiling)", bare_copy, rows, {}),
            ("finsent path, crawler pages of 50 rows", finsent_path, rows, {"batch": 50}),
            ("finsent path, import batches of 50,000 rows", finsent_path, rows, {"batch": 50_000}),
        ]:
            truncate(engine)
            seconds, _ = timed(fn, engine, subset, **kwargs)
            results.append(Result(name, len(subset), seconds, "r/s"))
        seconds, _ = timed(finsent_path, engine, rows, batch=50)  # the same rows again: all duplicates
        results.append(Result("finsent path, re-crawl (every row a duplicate)", len(rows), seconds, "r/s"))
    print_table("inserting posts (rows/s; goals: finsent path >= 50,000 and >= 0.6x bare COPY)", results,
                reference="bare COPY into keyed posts (ceiling)")
    news_benchmarks(args)


def _raw_posts(fake: FakeNaver, limit: int):
    """(ticker, post JSON as the server sends it) for the first ``limit`` posts."""
    out = []
    for ticker, posts in fake.posts.items():
        for post in posts:
            out.append((ticker, fake._post_json(post)))
            if len(out) >= limit:
                return out
    return out


if __name__ == "__main__":
    main()
