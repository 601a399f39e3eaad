"""News labels follow the posts' rules exactly; quality rules for news (a story counts once, market summaries)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from finsent.data.labels import LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.ingest.records import KST, NewsRow, PriceRow
from finsent.ingest.store import drop_vanished_sessions, upsert_prices
from tests.data.board import add_news, add_posts, add_prices, post, query
from tests.data.test_labels import CLOSES, HALT, OPENS, POSTS, T


def article(when: datetime, title: str, article_id: str, office: str = "015", story: str | None = None,
            ticker: str = T) -> NewsRow:
    return NewsRow(ticker, office, article_id, when.replace(tzinfo=KST), title, None, None,
                   story or f"{office}/{article_id}", "test")


@pytest.fixture
def both(engine):
    """The label tests' calendar, with a post and a news article at each of their times."""
    add_prices(engine, T, CLOSES, halted=HALT, opens=OPENS)
    add_posts(engine, [post(T, when, name, post_id=i) for i, (name, when) in enumerate(POSTS.items(), start=1)])
    add_news(engine, [article(when, name, f"{i:010d}") for i, (name, when) in enumerate(POSTS.items(), start=1)])


def post_labels(engine, definition):
    return set(query(engine, "SELECT p.title, l.session_date, l.base_date, l.target_date, l.ret, l.label "
                             "FROM labels l JOIN posts p USING (ticker, post_id) WHERE l.definition = :d",
                     d=definition))


def news_labels(engine, definition):
    return set(query(engine, "SELECT n.title, l.session_date, l.base_date, l.target_date, l.ret, l.label "
                             "FROM news_labels l JOIN news n USING (ticker, office_id, article_id) "
                             "WHERE l.definition = :d", d=definition))


@pytest.mark.parametrize("rule", ["next_open_close", "next_session", "same_day"])
def test_news_is_labelled_by_the_same_rules_as_posts(engine, both, rule):
    report = label_posts(engine, LabelDefinition.build(rule))
    assert report.news_labelled == report.labelled > 0
    assert report.news_unlabelled == report.unlabelled
    assert news_labels(engine, rule) == post_labels(engine, rule)


def test_the_tradable_label_of_an_evening_headline(engine, both):
    label_posts(engine, LabelDefinition.build("next_open_close"))
    # Tue 02-13 20:00: the next session is Thu 02-15 (02-14 halted); open 108 -> close 99
    (row,) = [r for r in news_labels(engine, "next_open_close") if r[0] == "tue_2000"]
    assert row[1:4] == (date(2024, 2, 15), date(2024, 2, 13), date(2024, 2, 15))
    assert row[4] == pytest.approx(99 / 108 - 1) and row[5] == "down"


def test_news_labels_are_incremental_and_follow_history_rewrites(engine, both):
    definition = LabelDefinition.build("next_open_close")
    first = label_posts(engine, definition)
    assert label_posts(engine, definition).news_labelled == 0
    add_news(engine, [article(datetime(2024, 2, 16, 8, 0), "fri_0800", "0000000100")])
    again = label_posts(engine, definition)
    assert (again.news_labelled, again.labelled) == (1, 0)
    # a split-like rewrite of 02-15: every label whose return ran through it is written again
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        upsert_prices(cur, [PriceRow(T, date(2024, 2, 15), Decimal(54), Decimal(54), Decimal("49.5"),
                                     Decimal("49.5"), 2000, True, "test")], replace=True)
    raw.commit()
    rewritten = label_posts(engine, definition)
    # the posts through 02-15, and the same articles plus fri_0800 (its base session is 02-15)
    assert rewritten.news_relabelled == rewritten.relabelled + 1 > 1
    relabelled = news_labels(engine, "next_open_close")
    assert {r for r in relabelled if r[0] != "fri_0800"} == post_labels(engine, "next_open_close")
    assert first.news_labelled + 1 == query(engine, "SELECT count(*) FROM news_labels")[0][0]
    # a session the source no longer lists takes the labels through it with it, news too
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        gone = drop_vanished_sessions(cur, T, date(2024, 2, 15), date(2024, 2, 15), [])
    raw.commit()
    raw.close()
    assert gone == [date(2024, 2, 15)]
    assert query(engine, "SELECT count(*) FROM news_labels WHERE :d BETWEEN base_date AND target_date",
                 d=date(2024, 2, 15))[0][0] == 0


def flags(engine, rule):
    return {r[0] for r in query(engine, "SELECT office_id || '/' || article_id FROM news_flags WHERE rule = :r",
                                r=rule)}


def test_one_story_counts_once_and_market_summaries_are_flagged(engine):
    at = datetime(2024, 2, 8, 10, 0)
    story = "001/0000000001"
    add_news(engine, [
        article(at, "삼성전자, 자사주 소각", "0000000001", office="001"),
        article(at.replace(minute=3), "삼성전자, 자사주 소각", "0000000002", office="009", story=story),
        article(at.replace(minute=5), "삼성전자, 자사주 소각…", "0000000003", office="015", story=story),
        article(at.replace(hour=15, minute=40), "[fn마감시황] 코스피, 외인 매도에 2600선 후퇴", "0000000004",
                office="014"),
        article(at.replace(hour=16), "코스피200 정기변경…편입·편출 종목은", "0000000005"),
        article(at.replace(hour=17), "삼성전자 3분기 실적 발표", "0000000006"),
    ])
    run = check_quality(engine)
    assert flags(engine, "news_story_repeat") == {"009/0000000002", "015/0000000003"}  # the first copy stays
    assert flags(engine, "news_market_summary") == {"014/0000000004", "015/0000000005"}
    assert run.flagged["news_story_repeat"] == 2 and run.flagged["news_market_summary"] == 2
    # an earlier copy arrives late (from an archive): the flag moves to keep the story's first copy
    add_news(engine, [article(at.replace(minute=0, second=0).replace(hour=9), "삼성전자, 자사주 소각", "0000000009",
                              office="008", story=story)])
    check_quality(engine)
    assert flags(engine, "news_story_repeat") == {"001/0000000001", "009/0000000002", "015/0000000003"}
    assert check_quality(engine).flagged["news_story_repeat"] == 0  # nothing changed: nothing touched


def test_an_article_tagged_to_many_stocks_is_a_market_article(engine):
    tickers = ["005930", "000660", "051910", "006400", "005380"]
    add_news(engine, [article(datetime(2024, 2, 8, 10), "반도체 업종 일제히 강세", "0000000042", ticker=t)
                      for t in tickers])
    check_quality(engine)
    assert query(engine, "SELECT count(*) FROM news_flags WHERE rule = 'news_market_summary'")[0][0] == 5
