"""The rows finsent stores, as the parsers produce them and the store writes them."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")

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
        return astuple(self)


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
        return astuple(self)


def kst(naive: datetime) -> datetime:
    """Attach KST to a naive board timestamp (Naver never sends an offset)."""
    return naive.replace(tzinfo=KST)
