"""Every quality rule, with posts it must flag and posts it must leave alone."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from finsent.cli import main
from finsent.data.quality import ALL_RULES, check_quality
from tests.data.board import add_posts, post, query

T, H = "005930", "000660"
NOON = datetime(2024, 3, 4, 12, 0)

CASES = {  # rule -> (titles it flags, titles it leaves alone)
    "cleanbot_hidden": (["클린봇이 이용자 보호를 위해 숨긴 게시글입니다."], ["평범한 글입니다"]),
    "reply_to_deleted": (["[삭제된 게시물의 답글] 그러게요"], ["삭제된 게시물의 답글이 많네요 주가"]),
    "spam_ad": (["010-1234-5678 로 연락주세요", "무료 리딩방 입장하세요", "수익 보장 종목 드립니다",
                 "https://bit.ly/abc 급등주", "오픈채팅 들어오세요"],
                ["2024년 4분기 실적 발표", "삼성전자 10만원 간다", "텔레비전 사업부 실적"]),
    "too_short": (["!!!", "ㅋ", "ㅋㅋㅋㅋ", "...."], ["매수", "10만"]),
    "off_topic": (["윤석열 탄핵하라", "민주당 지지자들은 왜 그래", "文 잘한다 36.6% vs 못한다 60"],
                  ["대통령 때문에 주가 폭락", "삼성전자 국회 청문회 나간다", "오늘 점심 뭐 먹지"]),
}


def test_each_rule_flags_its_positives_and_spares_its_negatives(engine):
    rows, expected = [], {}
    for rule, (positives, negatives) in CASES.items():
        for i, title in enumerate(positives + negatives):
            # spread in time so no two posts are duplicates of each other
            row = post(T, NOON + timedelta(days=len(rows)), title, cleanbot=not (rule == "cleanbot_hidden"
                                                                              and i < len(positives)))
            rows.append(row)
            expected[row.post_id] = (rule, i < len(positives))
    rows.append(post(T, NOON + timedelta(days=400), "좋은 회사", body="상담은 open.kakao.com/o/xyz 로"))
    add_posts(engine, rows)
    run = check_quality(engine)
    assert run.checked == len(rows)
    flags = {(pid, rule) for pid, rule in query(engine, "SELECT post_id, rule FROM post_flags")}
    for post_id, (rule, positive) in expected.items():
        assert ((post_id, rule) in flags) == positive, (rule, [r.title for r in rows if r.post_id == post_id])
    assert (rows[-1].post_id, "spam_ad") in flags  # the ad was in the body
    assert check_quality(engine).checked == 0  # incremental: checked posts are not checked again


def test_duplicates_within_24_hours_of_the_same_stock(engine):
    rows = [
        post(T, NOON, "삼성 간다 가즈아"),
        post(T, NOON + timedelta(hours=2), "삼성 간다 가즈아"),          # exact copy: duplicate
        post(T, NOON + timedelta(hours=3), "삼성 간다!!! 가즈아아아아"),   # same normalised: near duplicate
        post(T, NOON + timedelta(hours=28), "삼성 간다 가즈아"),         # 25h after the last copy: fresh
        post(H, NOON + timedelta(hours=1), "삼성 간다 가즈아"),          # other stock: not a duplicate
    ]
    add_posts(engine, rows)
    check_quality(engine)
    flags = sorted(query(engine, "SELECT post_id, rule FROM post_flags WHERE rule LIKE '%duplicate%'"))
    assert flags == [(rows[1].post_id, "duplicate_title"), (rows[2].post_id, "near_duplicate_title")]
    later = post(T, NOON + timedelta(hours=30), "삼성 간다 가즈아")
    add_posts(engine, [later])
    check_quality(engine)
    assert (later.post_id, "duplicate_title") in set(query(engine, "SELECT post_id, rule FROM post_flags"))


def test_report_counts_per_rule_and_ticker(engine, capsys):
    add_posts(engine, [post(T, NOON, "윤석열 탄핵하라"), post(H, NOON, "010-1111-2222 문의"),
                       post(H, NOON + timedelta(hours=5), "좋은 회사 실적")])
    assert main(["quality", "check"]) == 0
    assert main(["quality", "report"]) == 0
    out = capsys.readouterr().out
    table = out.split("examples")[0]
    lines = {line.split()[0]: line.split()[1:] for line in table.splitlines() if line and line.split()[0] in
             (*ALL_RULES, "checked", "any")}
    assert lines["off_topic"][:3] == ["0", "1", "1"]  # columns: 000660, 005930, total
    assert lines["spam_ad"][:3] == ["1", "0", "1"]
    assert lines["checked"] == ["2", "1", "3"]
    assert "윤석열 탄핵하라" in out  # examples are shown


@pytest.mark.parametrize("recheck", [True])
def test_recheck_rebuilds_flags(engine, recheck):
    add_posts(engine, [post(T, NOON, "윤석열 탄핵하라")])
    check_quality(engine)
    assert check_quality(engine, recheck=recheck).checked == 1
    assert query(engine, "SELECT count(*) FROM post_flags") == [(1,)]


def test_body_aware_rules(engine):
    """A reading-room ad in the body is spam under a clean title; a body that speaks of the market
    saves a political title; copy-paste bodies under new titles are flagged, whatever order they came in."""
    ad = "리딩방 아님 그냥 정보 공유 " * 3
    copy = "오늘 장 마감 후 외인 수급 정리했습니다 내일 시초가 주목 하세요 자세한 건 댓글로"
    rows = [post(T, NOON, "삼성 어떻게 보세요?", body="좋은 정보 https://bit.ly/3xYz 에서 받으세요"),
            post(T, NOON + timedelta(hours=1), "질문 있어요", body="궁금하면 카톡 아이디: lead777 로"),
            post(T, NOON + timedelta(hours=2), "기사 봤어요", body="https://n.news.naver.com/mnews/article/015/0005112233"),
            post(T, NOON + timedelta(hours=3), "윤석열 탄핵하라", body="그래야 코스피 오른다"),
            post(T, NOON + timedelta(hours=4), "오늘 시황", body=copy),
            post(T, NOON + timedelta(hours=5), "내일 전략", body=copy + " ㅋㅋㅋㅋ!!"),  # spacing and ㅋ aside
            post(T, NOON + timedelta(days=3), "다시 올립니다", body=copy),  # days later: not a copy of those
            post(T, NOON + timedelta(hours=6), "짧은 글", body=ad)]
    add_posts(engine, rows)
    run = check_quality(engine)
    flags = set(query(engine, "SELECT post_id, rule FROM post_flags"))
    ids = [r.post_id for r in rows]
    assert {(ids[0], "spam_ad"), (ids[1], "spam_ad")} <= flags
    assert not {r for p, r in flags if p in (ids[2], ids[3])}
    copies = {p for p, r in flags if r == "duplicate_body"}
    assert copies == {ids[5]} and run.flagged["duplicate_body"] == 1
    # a late copy written before them (a backfill) becomes the original: the flag moves
    early = post(T, NOON - timedelta(hours=1), "먼저 쓴 글", body=copy)
    add_posts(engine, [early])
    assert check_quality(engine).flagged["duplicate_body"] == 1
    assert {p for p, r in query(engine, "SELECT post_id, rule FROM post_flags") if r == "duplicate_body"} == \
        {ids[4], ids[5]}
