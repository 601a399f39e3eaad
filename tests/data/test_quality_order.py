"""Quality flags are a function of the data, not of the order it arrived in; spam rules on real titles."""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta

import sqlalchemy as sa

from finsent.data.quality import check_quality
from tests.data.board import add_posts, post, query

T = "005930"
NOON = datetime(2024, 3, 4, 12, 0)
TITLES = ["삼성 간다 가즈아", "삼성 간다!!! 가즈아아아", "오늘 실적 발표", "오늘 실적발표!", "ㅋ", "ㅋㅋㅋㅋ", "굿"]


def _posts():
    rng = random.Random(3)
    return [post(T, NOON + timedelta(hours=rng.randint(0, 120), minutes=rng.randint(0, 59)), rng.choice(TITLES),
                 post_id=i) for i in range(1, 121)]


def _flags(engine) -> set[tuple]:
    return set(query(engine, "SELECT post_id, rule FROM post_flags"))


def _reset(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE posts, post_flags, post_quality"))


def test_flags_do_not_depend_on_arrival_order(engine):
    rows = _posts()
    add_posts(engine, rows)
    check_quality(engine)
    all_at_once = _flags(engine)
    assert {rule for _, rule in all_at_once} >= {"duplicate_title", "near_duplicate_title"}

    by_time = sorted(rows, key=lambda r: r.posted_at)
    for order in (by_time[::-1], by_time[60:] + by_time[:60], random.Random(5).sample(rows, len(rows))):
        _reset(engine)
        for start in range(0, len(order), 17):  # arrive in batches (a backfill brings the older ones late)
            add_posts(engine, order[start:start + 17])
            check_quality(engine)
        assert _flags(engine) == all_at_once
    assert check_quality(engine, recheck=True).checked == len(rows)
    assert _flags(engine) == all_at_once


def test_a_backfilled_older_copy_flags_its_later_copies(engine):
    later = post(T, NOON + timedelta(hours=5), "삼성 간다 가즈아")
    add_posts(engine, [later])
    check_quality(engine)
    assert _flags(engine) == set()
    earlier = post(T, NOON, "삼성 간다 가즈아")
    add_posts(engine, [earlier])
    run = check_quality(engine)
    assert _flags(engine) == {(later.post_id, "duplicate_title")} and run.flagged["duplicate_title"] == 1


def test_duplicate_rules_skip_very_short_titles(engine):
    add_posts(engine, [post(T, NOON + timedelta(minutes=i), "ㅋㅋㅋ" if i % 2 else "굿") for i in range(400)])
    check_quality(engine)
    assert query(engine, "SELECT count(*) FROM post_flags WHERE rule LIKE '%%duplicate%%'") == [(0,)]


# Titles as they appear on the real boards: 리딩뱅크 ("the leading bank") is how KB금융 and 신한지주
# posts speak of the top bank; posts quote news with its link in the body.
CLEAN = [("105560", "KB금융 리딩뱅크 탈환했네요", None), ("055550", "신한지주 리딩뱅크 자리 지킬까", None),
         ("005930", "삼성전자 HBM 공급 기사 떴네요", "기사 링크 https://n.news.naver.com/mnews/article/015/0005112233"),
         ("005930", "외인 순매수 전환", "https://www.hankyung.com/article/2025041812345 참고하세요")]
SPAM = [("005930", "무료 리딩방 초대합니다 선착순", None), ("105560", "리딩 문의 주세요", None),
        ("005930", "수익 보장 종목", None), ("005930", "급등주 정보 https://bit.ly/3abc", None)]


def test_spam_rule_on_real_titles(engine, samples):
    with (samples / "board_list_rows_005930_2025-04-17.csv").open(encoding="utf-8-sig", newline="") as handle:
        real = [row["title"] for row in csv.DictReader(handle)]
    rows = [post(T, NOON + timedelta(minutes=i), title) for i, title in enumerate(real)]
    rows += [post(code, NOON + timedelta(days=2, minutes=i), title, body=body)
             for i, (code, title, body) in enumerate(CLEAN + SPAM)]
    add_posts(engine, rows)
    check_quality(engine)
    spam = {title for (title,) in query(engine, "SELECT p.title FROM post_flags f JOIN posts p USING (ticker, post_id) "
                                                "WHERE f.rule = 'spam_ad'")}
    assert {title for _, title, _ in SPAM} <= spam
    assert not {title for _, title, _ in CLEAN} & spam
    # the real board of 2025-04-17: a handful of ads at most, never a third of it
    assert len(spam & set(real)) < len(real) // 20, sorted(spam & set(real))
