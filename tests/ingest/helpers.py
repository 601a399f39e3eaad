"""What the store should hold, derived from what the loopback server served."""

from __future__ import annotations

import html
import re

import sqlalchemy as sa

from finsent.ingest.loopback import Post
from finsent.ingest.records import POST_COLUMNS, kst

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def expected_json_row(post: Post) -> tuple:
    body = post.body_text
    if body is None:
        body = html.unescape(_TAG.sub("", _BR.sub("\n", post.body_html))).strip()
    return (post.ticker, post.id, kst(post.written_at), post.title.strip(), body, post.nickname, post.profile_id,
            post.reply_depth > 0, post.parent_id if post.reply_depth > 0 else None, post.cleanbot_passed,
            post.holder_verified, post.post_type, post.views, post.likes, post.dislikes, post.comment_count,
            "naver-mobile")


def expected_html_row(post: Post) -> tuple:
    """The legacy list shows minutes only, no body, masked author, no reply links."""
    title = post.title.strip()
    return (post.ticker, post.id, kst(post.written_at.replace(second=0)), title, None, post.nickname, None,
            title.startswith("[삭제된 게시물의 답글]") or title.upper().startswith("RE:"), None, True, None,
            None, post.views or 0, post.likes, post.dislikes, post.comment_count, "naver-html")


def stored_posts(engine: sa.Engine, ticker: str) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {', '.join(POST_COLUMNS)} FROM posts WHERE ticker = :t "
                                    "ORDER BY post_id"), {"t": ticker})
        return [tuple(r) for r in rows]


def count(engine: sa.Engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()
