"""The real saved Naver pages and rows (../shared/naver/samples) parse to the right values."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

from finsent.ingest.feeds.board_html import CLEANBOT_HIDDEN, post_id_from_href, split_comment_count
from finsent.ingest.feeds.price_feeds import parse_sise_day


def test_sise_day_2022_page_declares_euc_kr_but_is_utf8(samples):
    body = (samples / "sise_day_068270_p1_2022-07-11.html").read_bytes()
    page = parse_sise_day(body, "text/html;charset=EUC-KR", "file://068270", "068270")
    assert len(page.rows) == 10 and page.halted == 0
    first = page.rows[0]
    assert (first.trade_date, first.close, first.open, first.high, first.low, first.volume) == (
        date(2022, 7, 11), Decimal(186000), Decimal(181500), Decimal(187500), Decimal(181500), 341446)
    assert page.rows[1].trade_date == date(2022, 7, 8) and page.rows[1].close == Decimal(182500)
    assert not first.adjusted and first.source == "sise-day"
    assert page.last_page == 420
    assert [r.trade_date for r in page.rows] == sorted((r.trade_date for r in page.rows), reverse=True)


def test_sise_day_2017_page_is_not_split_adjusted(samples):
    body = (samples / "sise_day_005930_p1_2017-04-21_presplit.html").read_bytes()
    page = parse_sise_day(body, None, "file://005930", "005930")
    first = page.rows[0]
    # Before the 2018 50:1 split Samsung traded around 2,000,000 won: the legacy page is raw.
    assert (first.trade_date, first.close, first.open, first.high, first.low, first.volume) == (
        date(2017, 4, 21), Decimal(2038000), Decimal(2024000), Decimal(2070000), Decimal(2024000), 243226)
    assert page.rows[1].close == Decimal(2014000) and page.rows[1].volume == 422977
    assert page.last_page == 526


def test_real_board_rows_have_ids_comment_counts_and_cleanbot_rows(samples):
    with (samples / "board_list_rows_005930_2025-04-17.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2000
    hidden = [r for r in rows if not r["url"]]
    assert all(r["title"].startswith(CLEANBOT_HIDDEN) for r in hidden)
    assert 0.08 < len(hidden) / len(rows) < 0.11  # "about 9.5% of rows"
    linked = [r for r in rows if r["url"]]
    ids = [post_id_from_href(r["url"]) for r in linked]
    assert ids[0] == 301090375 and all(i is not None and 2.9e8 < i < 3.1e8 for i in ids)
    # Page-number paging shifted while this was scraped: a few rows were served twice. They are
    # the same post (same time and title), which is why the store deduplicates by (ticker, post_id).
    assert 0 < len(ids) - len(set(ids)) < 20
    first_seen: dict[int, tuple[str, str]] = {}
    for post_id, row in zip(ids, linked):
        assert first_seen.setdefault(post_id, (row["date"], row["title"])) == (row["date"], row["title"])
    title, comments = split_comment_count(rows[0]["title"])
    assert (title, comments) == ("★ 마지막으로 100배 종목 알려준다.★", 2)
    assert split_comment_count("55500```55800") == ("55500```55800", None)
    with_counts = [split_comment_count(r["title"])[1] for r in linked]
    assert sum(c is not None for c in with_counts) > 100
    assert any(r["title"].startswith("[삭제된 게시물의 답글]") for r in rows)
