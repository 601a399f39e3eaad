"""Per-stock news headlines, JSON (SOURCES.md section 3b): a pure parser of one list page.

A page is an array of story clusters, newest first: ``[{"total": N, "items": [article, ...]}, ...]``.
Clusters are flattened into one row per article, identified by (officeId, articleId) whatever
cluster it came in; articles of one cluster are one story, and two clusters that share an article
are one story too. A story's key is the smallest ``OFFICE/ARTICLE`` of its articles, so it does not
depend on the order in which pages or clusters were read (the store merges stories the same way).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime

from finsent.errors import PageParseError
from finsent.ingest.feeds.decoding import json_document
from finsent.ingest.records import KST, NewsRow, article_key, kst

SOURCE = "naver-news"
DEFAULT_PAGE_SIZE = 20  # what public clients send; the largest accepted is unknown
_DIGITS = re.compile(r"[0-9]+")
_COMPACT_TIME = re.compile(r"([0-9]{12})([0-9]{2})?")  # YYYYMMDDHHmm[ss]
_TAG = re.compile(r"<[^>]+>")
# Documented widths (``"015"``, ``"0005012345"``): restored if a client ever sends them as numbers.
_OFFICE_WIDTH, _ARTICLE_WIDTH = 3, 10


def list_path(ticker: str) -> str:
    return f"/api/news/stock/{ticker}"


def list_params(page: int, page_size: int = DEFAULT_PAGE_SIZE) -> dict[str, str]:
    return {"pageSize": str(page_size), "page": str(page)}


def referer(news_url: str, ticker: str) -> str:
    return f"{news_url}/domestic/stock/{ticker}/news"


@dataclass
class NewsPage:
    articles: list[NewsRow]  # each article once, newest first as served
    clusters: int  # story clusters on the page (0: the walk ends)
    repeats: int  # items that were already on the page (the same article in two clusters)


def _identifier(value: object, what: str, width: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value).zfill(width)
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or len(value) > 20:
        raise ValueError(f"{what} {value!r} is not a string of digits")
    return value


def published_at(value: object) -> datetime:
    """``datetime`` as KST: ``YYYYMMDDHHmm`` (what Naver sends; seconds allowed), or an ISO time,
    naive (KST) or with an offset (converted, never cut off)."""
    if isinstance(value, str):
        compact = _COMPACT_TIME.fullmatch(value)
        try:
            if compact:  # sliced, not strptime: 10x faster on the parse path (bench/ingest.py)
                v = value
                return datetime(int(v[0:4]), int(v[4:6]), int(v[6:8]), int(v[8:10]), int(v[10:12]),
                                int(v[12:14] or 0), tzinfo=KST)
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return kst(moment) if moment.tzinfo is None else moment.astimezone(KST)
    raise ValueError(f"datetime {value!r} is not YYYYMMDDHHmm (KST)")


def _text(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    text = html.unescape(_TAG.sub("", value)).strip()
    return text or None


def parse_article(raw: dict, ticker: str) -> NewsRow:
    office_id = _identifier(raw["officeId"], "officeId", _OFFICE_WIDTH)
    article_id = _identifier(raw["articleId"], "articleId", _ARTICLE_WIDTH)
    title = raw["title"]
    if not isinstance(title, str):
        raise ValueError("title is not a string")
    office_name = raw.get("officeName")
    return NewsRow(
        ticker=ticker, office_id=office_id, article_id=article_id, published_at=published_at(raw["datetime"]),
        title=html.unescape(title).strip(), summary=_text(raw.get("body"), "body"),
        office_name=office_name.strip() or None if isinstance(office_name, str) else None,
        story_key=article_key(office_id, article_id), source=SOURCE,
    )


class StoryKeys:
    """Union-find over article keys: articles met in one cluster are one story."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def join(self, keys: list[str]) -> None:
        roots = sorted({self.find(k) for k in keys})
        for root in roots[1:]:
            self.parent[root] = roots[0]  # the smallest key stays the root: order-independent


def _clusters(document: object, url: str) -> list[list]:
    if not isinstance(document, list):
        raise PageParseError(url, "the answer is not a JSON array of story clusters")
    clusters = []
    for index, cluster in enumerate(document):
        if not isinstance(cluster, dict) or not isinstance(cluster.get("items"), list):
            raise PageParseError(url, f"cluster [{index}] has no items list")
        clusters.append(cluster["items"])
    return clusters


def parse_news_page(body: bytes, url: str, ticker: str) -> NewsPage:
    """Parse one list response; any deviation from the contract raises PageParseError."""
    document = json_document(body, url)
    clusters = _clusters(document, url)
    articles: dict[tuple[str, str], NewsRow] = {}
    stories = StoryKeys()
    seen = 0
    for c, items in enumerate(clusters):
        keys = []
        for i, raw in enumerate(items):
            if not isinstance(raw, dict):
                raise PageParseError(url, f"cluster [{c}] item [{i}] is not an object")
            try:
                row = parse_article(raw, ticker)
            except (KeyError, TypeError, ValueError) as exc:
                raise PageParseError(url, f"cluster [{c}] item [{i}]: {type(exc).__name__}: {exc}") from None
            seen += 1
            articles.setdefault(row.key, row)
            keys.append(row.story_key)
        stories.join(keys)
    for row in articles.values():
        row.story_key = stories.find(row.story_key)
    return NewsPage(list(articles.values()), len(clusters), seen - len(articles))
