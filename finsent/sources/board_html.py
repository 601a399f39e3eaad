"""The legacy discussion-board HTML list (SOURCES.md section 2), for saved pages and archives."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from bs4 import BeautifulSoup, Tag

from finsent.errors import PageParseError
from finsent.records import PostRow, kst
from finsent.sources.decoding import decode_korean_html

SOURCE = "naver-html"
CLEANBOT_HIDDEN = "클린봇이 이용자 보호를 위해 숨긴 게시글입니다."
DELETED_PARENT_PREFIX = "[삭제된 게시물의 답글]"
_COMMENT_SUFFIX = re.compile(r"\[(\d+)\]\s*$")
_PAGE_PARAM = re.compile(r"[?&]page=(\d+)")


def list_path(legacy_url: str) -> str:
    return f"{legacy_url}/item/board.naver"


def list_params(ticker: str, page: int) -> dict[str, str]:
    return {"code": ticker, "page": str(page)}


@dataclass
class BoardHtmlPage:
    posts: list[PostRow]
    hidden: int  # clean-bot rows: no link, so no id to key them by (counted, not stored)
    last_page: int | None


def split_comment_count(text: str) -> tuple[str, int | None]:
    """``'제목[3]'`` -> ``('제목', 3)``: the list shows the comment count as a ``[N]`` suffix."""
    match = _COMMENT_SUFFIX.search(text)
    if not match:
        return text.strip(), None
    return text[: match.start()].strip(), int(match.group(1))


def post_id_from_href(href: str) -> int | None:
    """``/item/board_read.naver?code=005930&nid=301090375&...`` -> 301090375."""
    values = parse_qs(urlsplit(href).query).get("nid")
    if not values or not values[0].isdigit():
        return None
    return int(values[0])


def _int(text: str) -> int:
    cleaned = text.replace(",", "").strip()
    return int(cleaned) if cleaned else 0


def last_page_number(soup: BeautifulSoup) -> int | None:
    link = soup.select_one("table.Nnavi td.pgRR a")
    if link is None:
        return None
    match = _PAGE_PARAM.search(link.get("href", ""))
    return int(match.group(1)) if match else None


def _parse_row(row: Tag, ticker: str) -> PostRow | None:
    """One post row; None for a clean-bot hidden row. Raises ValueError on an unexpected layout."""
    cells = row.find_all("td", recursive=False)
    if len(cells) != 6:
        raise ValueError(f"post row has {len(cells)} cells, expected 6")
    date_text = cells[0].get_text(strip=True)
    title_cell = cells[1]
    link = title_cell.find("a", href=True)
    if link is None:
        if CLEANBOT_HIDDEN in title_cell.get_text(" ", strip=True):
            return None
        raise ValueError("title cell has no link and is not a clean-bot row")
    post_id = post_id_from_href(link["href"])
    if post_id is None:
        raise ValueError(f"no nid in link {link['href']!r}")
    # The link text may be cut with '...'; the title attribute holds the full title.
    full_title = (link.get("title") or link.get_text()).strip()
    _, comments = split_comment_count(title_cell.get_text("", strip=True))
    author_cell = row.select_one("td.p11") or cells[2]
    return PostRow(
        ticker=ticker,
        post_id=post_id,
        posted_at=kst(datetime.strptime(date_text, "%Y.%m.%d %H:%M")),
        title=full_title,
        author=author_cell.get_text(strip=True) or None,
        is_reply=full_title.startswith(DELETED_PARENT_PREFIX) or full_title.upper().startswith("RE:"),
        cleanbot_passed=True,
        views=_int(cells[3].get_text()),
        likes=_int(cells[4].get_text()),
        dislikes=_int(cells[5].get_text()),
        comment_count=comments or 0,
        source=SOURCE,
    )


def parse_list_page(body: bytes, content_type: str | None, url: str, ticker: str) -> BoardHtmlPage:
    if not body.strip():
        raise PageParseError(url, "empty body")
    text = decode_korean_html(body, content_type, marker="날짜")
    if text is None:
        raise PageParseError(url, "no encoding (header, meta, cp949, utf-8) decodes the 날짜 header")
    soup = BeautifulSoup(text, "lxml")
    table = soup.select_one("#content div.section.inner_sub table.type2") or soup.select_one("table.type2")
    if table is None:
        raise PageParseError(url, "no table.type2 (layout changed?)")
    posts: list[PostRow] = []
    hidden = 0
    for number, row in enumerate(table.find_all("tr", attrs={"onmouseover": True}), start=1):
        try:
            post = _parse_row(row, ticker)
        except ValueError as exc:
            raise PageParseError(url, f"post row {number}: {exc}") from None
        if post is None:
            hidden += 1
        else:
            posts.append(post)
    return BoardHtmlPage(posts=posts, hidden=hidden, last_page=last_page_number(soup))
