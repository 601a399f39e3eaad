"""The rows finsent stores, as the parsers produce them and the store writes them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

# Korea has kept UTC+9 without daylight saving since 1988; a fixed offset is exact for every post
# and twice as fast to format as ZoneInfo("Asia/Seoul") on the insert path.
KST = timezone(timedelta(hours=9), "KST")

# Column order of the tuples below, shared by COPY and INSERT statements.
POST_COLUMNS: tuple[str, ...] = (
    "ticker",
    "post_id",
    "posted_at",
    "title",
    "body",
    "author",
    "author_id",
    "is_reply",
    "parent_id",
    "cleanbot_passed",
    "holder_verified",
    "post_type",
    "views",
    "likes",
    "dislikes",
    "comment_count",
    "source",
)
NEWS_COLUMNS: tuple[str, ...] = (
    "ticker",
    "office_id",
    "article_id",
    "published_at",
    "title",
    "summary",
    "office_name",
    "story_key",
    "source",
)
COMMENT_COLUMNS: tuple[str, ...] = (
    "ticker",
    "post_id",
    "comment_no",
    "parent_comment_no",
    "reply_level",
    "written_at",
    "modified_at",
    "text",
    "author",
    "likes",
    "dislikes",
    "replies",
    "deleted",
    "source",
)
PRICE_COLUMNS: tuple[str, ...] = (
    "ticker",
    "trade_date",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "adjusted",
    "source",
)


@dataclass(slots=True)
class PostRow:
    ticker: str
    post_id: int
    posted_at: datetime  # timezone-aware (KST)
    title: str
    body: str | None = None
    author: str | None = None
    author_id: str | None = None
    is_reply: bool = False
    parent_id: int | None = None
    cleanbot_passed: bool | None = None
    holder_verified: bool | None = None
    post_type: str | None = None
    views: int | None = None
    likes: int | None = None
    dislikes: int | None = None
    comment_count: int | None = None
    source: str = ""

    def as_tuple(self) -> tuple:
        # Spelled out: dataclasses.astuple deep-copies and is 5x slower on the insert path.
        return (self.ticker, self.post_id, self.posted_at, self.title, self.body, self.author, self.author_id,
                self.is_reply, self.parent_id, self.cleanbot_passed, self.holder_verified, self.post_type,
                self.views, self.likes, self.dislikes, self.comment_count, self.source)


@dataclass(slots=True)
class NewsRow:
    """One article tagged to one stock (SOURCES.md section 3b); (ticker, office_id, article_id) is its key."""

    ticker: str
    office_id: str
    article_id: str
    published_at: datetime  # timezone-aware (KST)
    title: str
    summary: str | None
    office_name: str | None
    story_key: str  # 'OFFICE/ARTICLE' of one article of its story (see sql/0016_news.sql)
    source: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.office_id, self.article_id)


@dataclass(slots=True)
class CommentRow:
    """One comment under one post (SOURCES.md section 1b, CBOX); (ticker, post_id, comment_no) is its key."""

    ticker: str
    post_id: int
    comment_no: int
    parent_comment_no: int | None  # a reply's parent comment; None for a comment (or where CBOX does not say)
    reply_level: int | None
    written_at: datetime  # timezone-aware (KST)
    modified_at: datetime | None
    text: str  # '' for a deleted comment
    author: str | None
    likes: int | None
    dislikes: int | None
    replies: int | None
    deleted: bool
    source: str


def article_key(office_id: str, article_id: str) -> str:
    """The story key an article gives its story when it is the story's first: ``OFFICE/ARTICLE``."""
    return f"{office_id}/{article_id}"


@dataclass(slots=True)
class PriceRow:
    ticker: str
    trade_date: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    adjusted: bool
    source: str

    def as_tuple(self) -> tuple:
        return (self.ticker, self.trade_date, self.open, self.high, self.low, self.close, self.volume,
                self.adjusted, self.source)


# What the prices table can hold: numeric(14, 2) and bigint.
MAX_PRICE = Decimal("999999999999.99")
MAX_VOLUME = 2**63 - 1


def bar_problem(row: PriceRow) -> str | None:
    """Why a daily bar cannot be true (None when it can). Halt rows (volume 0) carry no prices."""
    if not 0 <= row.volume <= MAX_VOLUME:
        return f"volume {row.volume} is out of range (0 to {MAX_VOLUME})"
    prices = {"open": row.open, "high": row.high, "low": row.low, "close": row.close}
    for name, value in prices.items():
        if not value.is_finite() or value < 0 or value > MAX_PRICE:
            return f"{name} {value} is out of range (0 to {MAX_PRICE})"
    if row.volume == 0:
        return None
    if row.close <= 0 or row.low <= 0:
        return f"close {row.close} and low {row.low} must be above 0"
    if not (row.low <= row.open <= row.high and row.low <= row.close <= row.high):
        return (f"expected low <= open, close <= high, got open {row.open} high {row.high} low {row.low} "
                f"close {row.close}")
    return None


# KRX tick sizes (호가가격단위) by price, one table for KOSPI and KOSDAQ since 2023-01-25: KRX
# 유가증권시장 업무규정 시행세칙 제59조 and 코스닥시장 업무규정 시행세칙, as revised by the KRX
# "호가가격단위 개선" of 2023-01-25. (price below, tick); from 500,000 won the tick is 1,000.
# Adjusted histories are off this grid anyway; here the tick is only the scale of a rounding slip.
KRX_TICKS: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal(2_000), Decimal(1)), (Decimal(5_000), Decimal(5)), (Decimal(20_000), Decimal(10)),
    (Decimal(50_000), Decimal(50)), (Decimal(200_000), Decimal(100)), (Decimal(500_000), Decimal(500)),
)
KRX_TOP_TICK = Decimal(1_000)


def krx_tick(price: Decimal) -> Decimal:
    """The KRX tick size at ``price`` (won)."""
    return next((tick for below, tick in KRX_TICKS if price < below), KRX_TOP_TICK)


def repair_rounding(row: PriceRow) -> PriceRow | None:
    """A bar whose open or close lies outside [low, high] by at most one tick (at the larger of the
    two prices) is a rounding artefact of an adjusted file (floats rounded to won): the same bar with
    high and low widened to include open and close. None when the bar needs no repair or is beyond one."""
    if row.volume <= 0 or bar_problem(row) is None or not row.low <= row.high:
        return None
    top, bottom = max(row.open, row.close), min(row.open, row.close)
    if top - row.high > krx_tick(top) or row.low - bottom > krx_tick(row.low):
        return None
    repaired = PriceRow(row.ticker, row.trade_date, row.open, max(row.high, top), min(row.low, bottom), row.close,
                        row.volume, row.adjusted, row.source)
    return repaired if bar_problem(repaired) is None else None


# What the posts table can hold: bigint ids, integer counters.
MAX_POST_ID = 2**63 - 1
MAX_COUNT = 2**31 - 1


def kst(naive: datetime) -> datetime:
    """Attach KST to a naive board timestamp (Naver never sends an offset)."""
    return naive.replace(tzinfo=KST)


# The tuples above must follow the column lists; checked once at import.
assert tuple(f.name for f in fields(PostRow)) == POST_COLUMNS
assert tuple(f.name for f in fields(PriceRow)) == PRICE_COLUMNS
assert tuple(f.name for f in fields(NewsRow)) == NEWS_COLUMNS
assert tuple(f.name for f in fields(CommentRow)) == COMMENT_COLUMNS
