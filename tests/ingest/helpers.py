"""What the store should hold, derived from what the loopback server served."""

from __future__ import annotations

import sqlalchemy as sa

from finsent.ingest.records import POST_COLUMNS, kst
from finsent.loopback import Post


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


# --- news -------------------------------------------------------------------------------------------

NEWS_COLUMNS_CHECKED = ("ticker", "office_id", "article_id", "published_at", "title", "summary", "office_name",
                        "source")


def expected_news(fake, ticker: str) -> list[tuple]:
    """One row per article the fake served for ``ticker``, however many clusters carried it."""
    from finsent.loopback.news import is_bare

    rows = []
    for (office, article), a in fake.all_articles(ticker).items():
        bare = is_bare(a)
        rows.append((ticker, office, article, kst(a.published_at), a.title.strip(),
                     None if bare or a.summary is None else a.summary.strip(), None if bare else a.office_name,
                     "naver-news"))
    return sorted(rows)


def stored_news(engine: sa.Engine, ticker: str) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {', '.join(NEWS_COLUMNS_CHECKED)} FROM news WHERE ticker = :t "
                                    "ORDER BY office_id, article_id"), {"t": ticker})
        return sorted(tuple(r) for r in rows)


def expected_stories(fake, ticker: str) -> dict[tuple[str, str], str]:
    """(office, article) -> the story key: clusters sharing an article are one story, keyed by the
    smallest OFFICE/ARTICLE among its articles."""
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            k = parent[k]
        return k

    with fake.lock:
        clusters = [[f"{a.office_id}/{a.article_id}" for a in c] for c in fake.news[ticker]]
    for keys in clusters:
        roots = sorted({find(k) for k in keys})
        for root in roots[1:]:
            parent[root] = roots[0]
    return {tuple(k.split("/")): find(k) for keys in clusters for k in keys}  # type: ignore[misc]


def stored_stories(engine: sa.Engine, ticker: str) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT office_id, article_id, story_key FROM news WHERE ticker = :t"),
                            {"t": ticker})
        return {(o, a): k for o, a, k in rows}
