"""The live discussion-board JSON list API (SOURCES.md section 1)."""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

from finsent.errors import PageParseError
from finsent.ingest.feeds.decoding import json_document
from finsent.ingest.records import KST, MAX_COUNT, MAX_POST_ID, PostRow, kst

log = logging.getLogger(__name__)

SOURCE = "naver-mobile"
LIST_PATH = "/front-api/discussion/list"
DETAIL_PATH = "/front-api/discussion/detail"  # one post's whole body (SOURCES.md section 1b)
DEFAULT_PAGE_SIZE = 50
# A list body ending in an ellipsis is taken for cut only from this length on: short posts end in
# "..." by themselves ("반등 가즈아..."); how long a cut body is, SOURCES.md does not say.
CUT_MIN_CHARS = 30
_ELLIPSES = ("...", "\u2026")

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def list_params(ticker: str, page_size: int, cursor: str | None) -> dict[str, str]:
    """Every documented parameter: with some missing, the API mixes in other stocks' posts."""
    params = {
        "discussionType": "domesticStock",
        "itemCode": ticker,
        "pageSize": str(page_size),
        "isHolderOnly": "false",
        "excludesItemNews": "false",
        "isItemNewsOnly": "false",
    }
    if cursor is not None:
        params["offset"] = cursor
    return params


def referer(board_url: str, ticker: str) -> str:
    return f"{board_url}/domestic/stock/{ticker}/discussion"


@dataclass
class BoardPage:
    posts: list[PostRow]
    next_cursor: str | None  # None: the walk ends here
    foreign: int = 0  # posts of other stocks the API mixed in (skipped, counted)
    notes: list[str] = field(default_factory=list)
    # post id -> why its whole body must come from the detail endpoint: 'cut' or 'missing'
    body_needs: dict[int, str] = field(default_factory=dict)


def _html_to_text(fragment: str) -> str:
    return html.unescape(_TAG.sub("", _BR.sub("\n", fragment))).strip()


def _opt_int(value: object, what: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{what} is a boolean")
    number = int(value)  # type: ignore[arg-type]
    if not 0 <= number <= MAX_COUNT:
        raise ValueError(f"{what} {number} is out of range (0 to {MAX_COUNT})")
    return number


def written_at(value: object) -> datetime:
    """``writtenAt`` as KST: naive values are KST (what Naver sends); one with an offset
    (``...+09:00``, ``...Z``) is converted, never cut off."""
    if not isinstance(value, str) or len(value) < 19:
        raise ValueError(f"writtenAt {value!r} is not YYYY-MM-DDTHH:MM:SS")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if moment.tzinfo is None:
        return kst(moment.replace(microsecond=0))
    return moment.astimezone(KST).replace(microsecond=0)


def _opt_bool(value: object) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"not a boolean: {value!r}")


def parse_post(raw: dict, ticker: str) -> PostRow:
    post_id = str(raw["id"])
    if not (post_id.isascii() and post_id.isdigit()) or int(post_id) > MAX_POST_ID:
        raise ValueError(f"id {post_id!r} is not a number up to {MAX_POST_ID}")
    title = raw["title"]
    if not isinstance(title, str):
        raise ValueError("title is not a string")
    writer = raw.get("writer") or {}
    body_text = raw.get("contentSwReplacedButImg")
    if not isinstance(body_text, str):
        body_html = raw.get("contentSwReplaced")
        body_text = _html_to_text(body_html) if isinstance(body_html, str) else None
    reply_depth = _opt_int(raw.get("replyDepth"), "replyDepth") or 0
    return PostRow(
        ticker=ticker,
        post_id=int(post_id),
        posted_at=written_at(raw["writtenAt"]),
        title=title.strip(),
        body=body_text,
        author=writer.get("nickname"),
        author_id=writer.get("profileId"),
        is_reply=reply_depth > 0,
        parent_id=_opt_int(raw.get("parentId"), "parentId") if reply_depth > 0 else None,
        cleanbot_passed=_opt_bool(raw.get("isCleanbotPassed")),
        holder_verified=_opt_bool(writer.get("isHolderVerified")),
        post_type=raw.get("postType"),
        views=_opt_int(raw.get("viewCount"), "viewCount"),
        likes=_opt_int(raw.get("recommendCount"), "recommendCount"),
        dislikes=_opt_int(raw.get("notRecommendCount"), "notRecommendCount"),
        comment_count=_opt_int(raw.get("commentCount"), "commentCount"),
        source=SOURCE,
    )


def body_need(raw: dict) -> str | None:
    """'missing' when the list gives no body, 'cut' when it looks cut (a long text ending in an
    ellipsis), else None: the list's body is the post's."""
    text, markup = raw.get("contentSwReplacedButImg"), raw.get("contentSwReplaced")
    if not isinstance(text, str) and not isinstance(markup, str):
        return "missing"
    shown = (text if isinstance(text, str) else _html_to_text(markup)).rstrip()
    return "cut" if len(shown) >= CUT_MIN_CHARS and shown.endswith(_ELLIPSES) else None


def detail_params(post_id: int) -> dict[str, str]:
    return {"id": str(post_id)}


def parse_detail(body: bytes, url: str) -> str:
    """The whole body of one post from the detail endpoint, as text; PageParseError otherwise."""
    document = json_document(body, url)
    if not isinstance(document, dict) or document.get("isSuccess") is not True:
        raise PageParseError(url, "isSuccess is not true")
    result = document.get("result")
    if not isinstance(result, dict):
        raise PageParseError(url, "result is missing or not an object")
    content = result.get("contentHtml")
    if not isinstance(content, str):
        raise PageParseError(url, "result.contentHtml is missing or not a string")
    return _html_to_text(content)


def parse_list_page(body: bytes, url: str, ticker: str, cursor_sent: str | None) -> BoardPage:
    """Parse one list response; any deviation from the contract raises PageParseError."""
    document = json_document(body, url)
    if not isinstance(document, dict) or document.get("isSuccess") is not True:
        raise PageParseError(url, "isSuccess is not true")
    result = document.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("posts"), list):
        raise PageParseError(url, "result.posts is missing or not a list")
    posts: list[PostRow] = []
    needs: dict[int, str] = {}
    foreign = 0
    for index, raw in enumerate(result["posts"]):
        if not isinstance(raw, dict):
            raise PageParseError(url, f"posts[{index}] is not an object")
        item_code = raw.get("itemCode")
        if item_code not in (None, "", ticker):
            foreign += 1
            continue
        try:
            posts.append(parse_post(raw, ticker))
        except (KeyError, TypeError, ValueError) as exc:
            raise PageParseError(url, f"posts[{index}]: {type(exc).__name__}: {exc}") from None
        need = body_need(raw)
        if need is not None:
            needs[posts[-1].post_id] = need
    if foreign:
        log.warning("%s: %d posts of other stocks in the answer were skipped", url, foreign)
    last_offset = result.get("lastOffset")
    next_cursor = None
    # A page of only other stocks' posts (the API mixes them in) is not the end of the board.
    if (posts or foreign) and last_offset not in (None, "") and str(last_offset) != cursor_sent:
        next_cursor = str(last_offset)
    return BoardPage(posts=posts, next_cursor=next_cursor, foreign=foreign, body_needs=needs)
