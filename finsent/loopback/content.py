"""What the loopback Naver serves: formats' constants, the records it stores, and the word lists
its synthetic posts are made of."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

DEFAULT_TICKERS: Mapping[str, str] = {"005930": "삼성전자", "000660": "SK하이닉스"}

# A few fixed exchange holidays, so "business day" and "session" differ as they do on the KRX.
KRX_HOLIDAYS: frozenset[date] = frozenset(
    {
        date(2024, 1, 1), date(2024, 2, 9), date(2024, 2, 12), date(2024, 4, 10), date(2024, 5, 6),
        date(2024, 5, 15), date(2024, 6, 6), date(2024, 8, 15), date(2024, 9, 16), date(2024, 9, 17),
        date(2024, 9, 18), date(2024, 10, 3), date(2024, 10, 9), date(2024, 12, 25), date(2024, 12, 31),
        date(2025, 1, 1), date(2025, 1, 28), date(2025, 1, 29), date(2025, 1, 30), date(2025, 3, 3),
        date(2025, 5, 5), date(2025, 5, 6), date(2025, 6, 3), date(2025, 6, 6), date(2025, 8, 15),
        date(2025, 10, 3), date(2025, 10, 6), date(2025, 10, 7), date(2025, 10, 8), date(2025, 10, 9),
        date(2025, 12, 25), date(2025, 12, 31), date(2026, 1, 1), date(2026, 2, 16), date(2026, 2, 17),
        date(2026, 2, 18), date(2026, 3, 2), date(2026, 5, 5), date(2026, 5, 25), date(2026, 8, 17),
        date(2026, 9, 24), date(2026, 9, 25), date(2026, 10, 5), date(2026, 10, 9),
    }
)

CLEANBOT_HIDDEN_TEXT = "클린봇이 이용자 보호를 위해 숨긴 게시글입니다."
DELETED_PARENT_PREFIX = "[삭제된 게시물의 답글]"
SPLIT_RATIO = 50

# The query parameters the live JSON board expects; leaving any out makes it leak other stocks.
JSON_REQUIRED_PARAMS = (
    "discussionType",
    "itemCode",
    "pageSize",
    "isHolderOnly",
    "excludesItemNews",
    "isItemNewsOnly",
)
BOARD_PAGE_SIZE = 20
SISE_DAY_PAGE_SIZE = 10
HTML_TITLE_MAX = 40
# Stocks whose posts leak into a JSON answer when a parameter is missing (never served otherwise).
LEAK_CANDIDATES = ("035720", "035420", "005380", "000270", "068270", "105560")

HTML_CT = "text/html;charset=EUC-KR"
JSON_CT = "application/json;charset=UTF-8"
XML_CT = "text/xml;charset=EUC-KR"
JS_CT = "text/plain;charset=UTF-8"
TEXT_CT = "text/plain;charset=UTF-8"


@dataclass(frozen=True)
class Post:
    """One discussion-board post, as the fake stores it (frozen: shared between threads)."""

    id: int
    ticker: str
    written_at: datetime  # KST, naive, second resolution
    title: str
    body_html: str
    body_text: str | None
    nickname: str  # masked, e.g. 'abcd****'
    profile_id: str
    holder_verified: bool
    reply_depth: int
    parent_id: int | None
    cleanbot_passed: bool
    comment_count: int
    likes: int
    dislikes: int
    views: int | None
    post_type: str  # 'normal' | 'itemNewsResearch'
    list_body: str = "full"  # how the JSON list shows the body: 'full', 'cut' ("...") or 'missing'


@dataclass(frozen=True)
class PriceRow:
    """One daily OHLCV row (KRW, shares). A halt row has open=high=low=volume=0."""

    trade_date: date
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass
class Fault:
    path: str
    kind: str
    remaining: int
    kw: dict[str, Any]
    skip: int = 0  # normal answers of ``path`` still to serve before this fault fires


@dataclass
class Arrival:
    ticker: str
    n: int
    after: int  # absolute value of the list-request counter that triggers it


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    # Set for board-list answers (JSON or HTML): the ticker asked for, for list_requests/arrivals.
    list_ticker: str | None = None


# --------------------------------------------------------------------------------------------
# Synthetic text
# --------------------------------------------------------------------------------------------

BULLISH = [
    "{name} 내일은 무조건 반등합니다",
    "외인 순매수 들어오네요 ㅋㅋ",
    "실적 발표 기대됩니다 홀딩",
    "여기서 더 모아가는 게 맞다고 봄",
    "가즈아 🚀🚀",
    "바닥 다졌다 이제 올라갈 일만",
    "목표가 상향 리포트 나왔네요",
    "장투하면 결국 이깁니다 😎",
]
BEARISH = [
    "물렸습니다 ㅠㅠ 언제 탈출하나",
    "오늘도 파란불이네",
    "손절하고 떠납니다",
    "개미 털기 지겹다 진짜",
    "이 가격이면 아직 비싸다",
    "공매도 세력 또 시작이냐",
    "멘탈 나감 😭",
    "하락 추세 끝 안 보임",
]
OFF_TOPIC = [
    "국회는 오늘도 싸우는구나",
    "여론조사 결과 보셨나요?",
    "정치 얘기 좀 그만합시다",
    "선거 끝나면 증시 어떻게 될까",
    "점심 뭐 먹지",
    "주말에 등산 가실 분",
]
ADS = [
    "무료 리딩방 입장 문의 010-{a}-{b}",
    "수익률 300% 보장 → https://bit.ly/{slug}",
    "급등주 무료 추천 카톡 open.kakao.com/o/{slug}",
    "VIP 종목 상담 ☎ 010-{a}-{b} 선착순",
]
SPECIAL = [
    'CEO "올해 증설 계획 그대로"…주가는?',
    "PER < 10 이면 싼 거 아님?",
    "R&D 투자 늘린다 & 배당도 늘리나",
    "<속보> 외국인 대량 매도",
    "'이번엔 다르다'는 말 믿어도 되나",
    "A&B 합병설 \"사실무근\"",
]
LONG_PARTS = [
    "솔직히 말해서 지금 이 가격대에서",
    "추가 매수를 해야 할지 말아야 할지",
    "고민이 너무 많이 되는데 여러분 생각은",
    "어떠신지 궁금해서 글 남겨봅니다",
    "지난 분기 실적이랑 비교해 보면",
    "외국인 수급이 계속 빠지는 게 마음에 걸려요",
]
NEWS = [
    "[리서치] {name} 목표주가 상향, 업황 회복 반영",
    "[리서치] {name} 4분기 실적 프리뷰",
    "[뉴스] {name}, 신규 설비 투자 발표",
]
BODY_LINES = [
    "오늘 장 보니까 거래량이 많이 붙네요.",
    "다들 어떻게 대응하시나요?",
    "저는 일단 반만 정리했습니다.",
    "뉴스 나오기 전에 이미 올랐던 듯.",
    "차트상으로는 지지선 근처입니다.",
    "배당 기준일 확인하세요.",
    "A < B & C > D 같은 말장난은 그만",
]
NICK_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def fmt_int(n: int) -> str:
    return f"{n:,}"


def round_tick(price: float) -> int:
    """Round to the 100-won tick used for 50,000-200,000 won stocks (never below one tick)."""
    return max(100, round(price / 100.0) * 100)


def encode_cursor(post_id: int, code: str) -> str:
    # Opaque on purpose: clients must echo lastOffset back, never compute it from an id.
    return base64.urlsafe_b64encode(f"v1|{post_id}|{code}".encode()).decode("ascii")


def decode_cursor(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        tag, post_id, _code = raw.split("|", 2)
        if tag != "v1":
            return None
        return int(post_id)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
