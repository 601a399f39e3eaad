"""What a crawl must store of what the loopback served: the truth tests and the soak check against.

One place, so the suite's crawl tests and ``bench/soak.py`` cannot drift apart on what "exact" means.
"""

from __future__ import annotations

import html
import re

from finsent.ingest.records import kst
from finsent.loopback.content import Post

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def stored_post_row(post: Post) -> tuple:
    """A served post as the JSON board's crawl must store it (the columns of ``POST_COLUMNS``)."""
    body = post.body_text
    if body is None:
        body = html.unescape(_TAG.sub("", _BR.sub("\n", post.body_html))).strip()
    return (post.ticker, post.id, kst(post.written_at), post.title.strip(), body, post.nickname, post.profile_id,
            post.reply_depth > 0, post.parent_id if post.reply_depth > 0 else None, post.cleanbot_passed,
            post.holder_verified, post.post_type, post.views, post.likes, post.dislikes, post.comment_count,
            "naver-mobile")
