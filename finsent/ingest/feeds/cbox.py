"""Comments of discussion-board posts: Naver's comment service (CBOX, JSONP) and the discussion
API's comment counts (SOURCES.md section 1b).

CBOX answers JSONP (``_callback({...});``): the wrapper is checked and stripped, the JSON inside
validated, and anything else (a bare JSON, an error page, ``success`` false, a comment of another
post, a time that does not read) is a PageParseError: the caller quarantines the answer and
stores nothing of that post. The uncertain parts are read defensively: ``regTime`` as ISO with an
offset (``+0900``, ``+09:00``, ``Z``), without one (KST) or epoch milliseconds; replies from
``parentCommentNo`` / ``replyLevel`` where present; deleted comments (``deleted`` true, empty
``contents``) kept as deleted.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime

from finsent.errors import PageParseError
from finsent.ingest.feeds.decoding import json_document
from finsent.ingest.records import KST, MAX_COUNT, MAX_POST_ID, CommentRow

SOURCE = "naver-cbox"
LIST_PATH = "/commentBox/cbox/web_naver_list_jsonp.json"
COUNTS_PATH = "/front-api/discussion/comment/counts"
PAGE_SIZE = 100
MAX_COUNT_IDS = 20  # the counts endpoint takes at most this many post ids

_JSONP = re.compile(rb"^\s*(?:/\*\*/\s*)?([A-Za-z_$][\w$.]*)\s*\((.*)\)\s*;?\s*$", re.DOTALL)
_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def list_params(post_id: int, page: int) -> dict[str, str]:
    """Every parameter of SOURCES.md's request, in its order."""
    return {"ticket": "finance", "templateId": "default", "pool": "cbox12", "lang": "ko", "country": "KR",
            "objectId": str(post_id), "pageSize": str(PAGE_SIZE), "page": str(page), "listType": "OBJECT",
            "sort": "NEW"}


def referer(legacy_url: str, ticker: str, post_id: int) -> str:
    return f"{legacy_url}/item/board_read.naver?code={ticker}&nid={post_id}"


def counts_params(post_ids: list[int]) -> dict[str, str]:
    if not 0 < len(post_ids) <= MAX_COUNT_IDS:
        raise ValueError(f"the counts endpoint takes 1 to {MAX_COUNT_IDS} post ids, got {len(post_ids)}")
    return {"postIds": ",".join(str(p) for p in post_ids)}


def parse_counts(body: bytes, url: str) -> dict[int, int]:
    """post id -> comment count, from the discussion API's counts answer."""
    document = json_document(body, url)
    result = document.get("result") if isinstance(document, dict) else None
    counts = result.get("commentCounts") if isinstance(result, dict) else None
    if not isinstance(counts, list):
        raise PageParseError(url, "result.commentCounts is missing or not a list")
    found: dict[int, int] = {}
    for index, item in enumerate(counts):
        try:
            found[_post_id(item["postId"])] = _count(item["commentCount"], "commentCount")
        except (KeyError, TypeError, ValueError) as exc:
            raise PageParseError(url, f"commentCounts[{index}]: {type(exc).__name__}: {exc}") from None
    return found


def unwrap_jsonp(body: bytes, url: str) -> dict:
    """The JSON object inside ``callback({...});``; PageParseError for anything else."""
    if not body.strip():
        raise PageParseError(url, "empty body")
    match = _JSONP.match(body)
    if match is None:
        raise PageParseError(url, f"not JSONP (starts {body[:40]!r})")
    document = json_document(match.group(2), url)
    if not isinstance(document, dict):
        raise PageParseError(url, "the JSONP payload is not an object")
    return document


@dataclass
class CommentPage:
    comments: list[CommentRow]
    total: int | None  # result.count.total: every comment of the post when this page was served
    last_page: int | None  # pageModel's last page, where it says


def parse_comment_page(body: bytes, url: str, ticker: str, post_id: int) -> CommentPage:
    document = unwrap_jsonp(body, url)
    if document.get("success") is not True:
        raise PageParseError(url, f"success is not true (code {document.get('code')!r}: {document.get('message')!r})")
    result = document.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("commentList"), list):
        raise PageParseError(url, "result.commentList is missing or not a list")
    comments = []
    for index, raw in enumerate(result["commentList"]):
        try:
            comments.append(parse_comment(raw, ticker, post_id))
        except (KeyError, TypeError, ValueError) as exc:
            raise PageParseError(url, f"commentList[{index}]: {type(exc).__name__}: {exc}") from None
    count = result.get("count")
    page_model = result.get("pageModel")
    try:
        total = _count(count.get("total"), "count.total") if isinstance(count, dict) else None
        last = _count(page_model.get("lastPage"), "pageModel.lastPage") if isinstance(page_model, dict) else None
    except (TypeError, ValueError) as exc:
        raise PageParseError(url, f"{type(exc).__name__}: {exc}") from None
    return CommentPage(comments, total, last)


def parse_comment(raw: dict, ticker: str, post_id: int) -> CommentRow:
    if not isinstance(raw, dict):
        raise TypeError("not an object")
    object_id = raw.get("objectId")
    if object_id not in (None, "") and str(object_id) != str(post_id):
        raise ValueError(f"objectId {object_id!r} is another post's (asked for {post_id})")
    number = _post_id(raw["commentNo"])
    deleted = raw.get("deleted") is True
    contents = raw.get("contents")
    if contents is None and deleted:
        contents = ""
    if not isinstance(contents, str):
        raise TypeError("contents is not a string")
    parent = raw.get("parentCommentNo")
    parent_no = _post_id(parent) if parent not in (None, "", 0) else None
    level = _count(raw.get("replyLevel"), "replyLevel")
    written = comment_time(raw["regTime"])
    modified = comment_time(raw["modTime"]) if raw.get("modTime") not in (None, "") else None
    return CommentRow(
        ticker=ticker, post_id=post_id, comment_no=number,
        parent_comment_no=parent_no if parent_no != number else None, reply_level=level, written_at=written,
        modified_at=modified if modified != written else None,
        text="" if deleted else _plain(contents), author=_text(raw.get("userName")),
        likes=_count(raw.get("sympathyCount"), "sympathyCount"),
        dislikes=_count(raw.get("antipathyCount"), "antipathyCount"),
        replies=_count(raw.get("replyAllCount"), "replyAllCount"), deleted=deleted, source=SOURCE)


def comment_time(value: object) -> datetime:
    """``regTime`` as KST: ISO with an offset (+0900, +09:00, Z), without one (KST), with a space
    for the T, or epoch milliseconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, KST).replace(microsecond=0)
    if not isinstance(value, str) or len(value.strip()) < 19:
        raise ValueError(f"time {value!r} is not YYYY-MM-DDTHH:MM:SS[+0900]")
    text = _OFFSET.sub(r"\1:\2", value.strip().replace(" ", "T", 1))
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    moment = moment.replace(tzinfo=KST) if moment.tzinfo is None else moment.astimezone(KST)
    return moment.replace(microsecond=0)


def _post_id(value: object) -> int:
    text = str(value)
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or int(text) > MAX_POST_ID:
        raise ValueError(f"{value!r} is not a number up to {MAX_POST_ID}")
    return int(text)


def _count(value: object, what: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{what} is a boolean")
    number = int(value)  # type: ignore[call-overload]
    if not 0 <= number <= MAX_COUNT:
        raise ValueError(f"{what} {number} is out of range (0 to {MAX_COUNT})")
    return number


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _plain(contents: str) -> str:
    return (html.unescape(contents) if _ENTITY.search(contents) else contents).strip()
