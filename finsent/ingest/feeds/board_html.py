"""The legacy discussion-board HTML list (SOURCES.md section 2), for saved pages and archives.

Parsed with lxml directly: building a BeautifulSoup tree made this 8x slower, and archives of the
legacy board run to millions of pages (bench/ingest.py measures both parsers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import lxml.html
from lxml.etree import ParserError

from finsent.errors import PageParseError
from finsent.ingest.feeds.decoding import decode_korean_html
from finsent.ingest.records import PostRow, kst

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


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


_TYPE2_TABLE = f"//table[{_has_class('type2')}]"
_LAST_PAGE_HREF = f"//table[{_has_class('Nnavi')}]//td[{_has_class('pgRR')}]//a/@href"


def parse_html(text: str):
    """An lxml tree of a (decoded) legacy page."""
    return lxml.html.document_fromstring(text)


def type2_table(tree):
    """The page's main ``table.type2``, or None."""
    tables = tree.xpath(_TYPE2_TABLE)
    return tables[0] if tables else None


def data_rows(table) -> list:
    """Data rows: the ``tr`` with an onmouseover attribute (separators and headers have none)."""
    return table.xpath(".//tr[@onmouseover]")


def cell_text(cell) -> str:
    return " ".join(cell.text_content().split())


def last_page_number(tree) -> int | None:
    """``table.Nnavi td.pgRR a`` -> its ``page=`` number; None on a single-page list."""
    for href in tree.xpath(_LAST_PAGE_HREF):
        match = _PAGE_PARAM.search(href)
        if match:
            return int(match.group(1))
    return None


def _parse_row(row, ticker: str) -> PostRow | None:
    """One post row; None for a clean-bot hidden row. Raises ValueError on an unexpected layout."""
    cells = row.xpath("./td")
    if len(cells) != 6:
        raise ValueError(f"post row has {len(cells)} cells, expected 6")
    date_text = cell_text(cells[0])
    title_cell = cells[1]
    links = title_cell.xpath(".//a[@href]")
    if not links:
        if CLEANBOT_HIDDEN in cell_text(title_cell):
            return None
        raise ValueError("title cell has no link and is not a clean-bot row")
    href = links[0].get("href")
    post_id = post_id_from_href(href)
    if post_id is None:
        raise ValueError(f"no nid in link {href!r}")
    # The link text may be cut with '...'; the title attribute holds the full title.
    full_title = (links[0].get("title") or links[0].text_content()).strip()
    _, comments = split_comment_count(cell_text(title_cell).replace("[ ", "[").replace(" ]", "]"))
    return PostRow(
        ticker=ticker,
        post_id=post_id,
        posted_at=kst(datetime.strptime(date_text, "%Y.%m.%d %H:%M")),
        title=full_title,
        author=cell_text(cells[2]) or None,  # td.p11
        is_reply=full_title.startswith(DELETED_PARENT_PREFIX) or full_title.upper().startswith("RE:"),
        cleanbot_passed=True,
        views=_int(cell_text(cells[3])),
        likes=_int(cell_text(cells[4])),
        dislikes=_int(cell_text(cells[5])),
        comment_count=comments or 0,
        source=SOURCE,
    )


def legacy_page_table(body: bytes, content_type: str | None, url: str):
    """(tree, its table.type2) of a legacy finance.naver.com page, or PageParseError saying why not.

    Both legacy lists (the board and sise_day) share the encoding rules and the table layout."""
    if not body.strip():
        raise PageParseError(url, "empty body")
    text = decode_korean_html(body, content_type, marker="날짜")
    if text is None:
        raise PageParseError(url, "no encoding (header, meta, cp949, utf-8) decodes the 날짜 header")
    try:
        tree = parse_html(text)
    except ParserError as exc:
        raise PageParseError(url, f"not HTML ({exc})") from None
    table = type2_table(tree)
    if table is None:
        raise PageParseError(url, "no table.type2 (layout changed?)")
    return tree, table


def parse_list_page(body: bytes, content_type: str | None, url: str, ticker: str) -> BoardHtmlPage:
    tree, table = legacy_page_table(body, content_type, url)
    posts: list[PostRow] = []
    hidden = 0
    for number, row in enumerate(data_rows(table), start=1):
        try:
            post = _parse_row(row, ticker)
        except ValueError as exc:
            raise PageParseError(url, f"post row {number}: {exc}") from None
        if post is None:
            hidden += 1
        else:
            posts.append(post)
    return BoardHtmlPage(posts=posts, hidden=hidden, last_page=last_page_number(tree))
