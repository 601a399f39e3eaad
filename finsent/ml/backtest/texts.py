"""What a walk reads: the labelled texts of one source (board posts, news headlines or comments).

Both come as one frame per source with the columns ticker, post_id, title, label, session_date,
ret and ``body`` (the post's body, news: the summary; cleaned and cut to the walk's budget, or None
when the walk reads titles; a walk reading comments: the post's body, then the comments written
before its session opened, ``finsent.data.post_comments``); news adds ``story`` (``news.story_key``:
the articles of one story, carried by several offices), so that the index counts a story once
(``per_story``). A news article's id is the snapshots' one (``finsent.data.build.NEWS_ITEM_ID_SQL``):
negative, it never meets a post's id; a comment's too (``COMMENT_ITEM_ID_SQL``, from the articles' sequence).
"""

from __future__ import annotations

import hashlib

import pandas as pd
from sqlalchemy.engine import Engine

from finsent.data.build import COMMENT_ITEM_ID_SQL, NEWS_ITEM_ID_SQL
from finsent.data.post_comments import comments_before_sql
from finsent.data.sources import BOARD, COMMENTS, NEWS, text_source
from finsent.db import raw_connection
from finsent.ml.backtest.spec import BacktestSpec
from finsent.tickers import member_on_sql

COLUMNS = ["ticker", "post_id", "title", "label", "session_date", "ret"]


def load_labelled_posts(engine: Engine, spec: BacktestSpec) -> pd.DataFrame:
    """Every labelled post of the definition (flat ones too: they belong in the index), minus flagged
    ones, of (ticker, session)s where the ticker was in the universe (point in time)."""
    comments = comments_before_sql("l.ticker", "l.post_id", "l.session_date") if spec.text_spec.reads_comments \
        else "NULL::text"  # the comments written before the post's session opened, when the walk reads them
    query = f"""
        SELECT l.ticker, l.post_id, p.title, l.label, l.session_date, l.ret::float8 AS ret, p.body,
               {comments} AS comments
        FROM labels l JOIN posts p ON p.ticker = l.ticker AND p.post_id = l.post_id
        WHERE l.definition = %(definition)s AND NOT EXISTS (
            SELECT 1 FROM post_flags f WHERE f.ticker = l.ticker AND f.post_id = l.post_id AND f.rule = ANY(%(rules)s))
          AND {member_on_sql("l.ticker", "l.session_date")}
        ORDER BY l.session_date, l.ticker, l.post_id"""
    return _read(engine, query, {"definition": spec.definition, "rules": list(spec.rules)},
                 [*COLUMNS, "body", "comments"], spec)


def load_labelled_news(engine: Engine, spec: BacktestSpec) -> pd.DataFrame:
    """Every labelled news article of the definition, with its story, minus the articles the news
    rules flagged (another office's copy of a story, market summaries) unless ``--rules none``, as
    ``finsent dataset build --source news`` does; point in time like the posts."""
    query = f"""
        SELECT l.ticker, {NEWS_ITEM_ID_SQL} AS post_id, p.title, l.label, l.session_date, l.ret::float8 AS ret,
               p.summary AS body, p.story_key
        FROM news_labels l JOIN news p
             ON p.ticker = l.ticker AND p.office_id = l.office_id AND p.article_id = l.article_id
        WHERE l.definition = %(definition)s AND (NOT %(flagged)s OR NOT EXISTS (
            SELECT 1 FROM news_flags f WHERE f.ticker = l.ticker AND f.office_id = l.office_id
                                         AND f.article_id = l.article_id))
          AND {member_on_sql("l.ticker", "l.session_date")}
        ORDER BY l.session_date, l.ticker, post_id"""
    return _read(engine, query, {"definition": spec.definition, "flagged": bool(spec.rules)},
                 [*COLUMNS, "body", "story"], spec)


def load_labelled_comments(engine: Engine, spec: BacktestSpec) -> pd.DataFrame:
    """Every labelled comment of the definition (its text read as a title: a comment has no body), minus
    the comments the comment rules flagged unless ``--rules none``; point in time like the posts."""
    query = f"""
        SELECT l.ticker, {COMMENT_ITEM_ID_SQL} AS post_id, p.text AS title, l.label, l.session_date,
               l.ret::float8 AS ret, NULL::text AS body
        FROM comment_labels l JOIN comments p
             ON p.ticker = l.ticker AND p.post_id = l.post_id AND p.comment_no = l.comment_no
        WHERE l.definition = %(definition)s AND (NOT %(flagged)s OR NOT EXISTS (
            SELECT 1 FROM comment_flags f WHERE f.ticker = l.ticker AND f.post_id = l.post_id
                                            AND f.comment_no = l.comment_no))
          AND {member_on_sql("l.ticker", "l.session_date")}
        ORDER BY l.session_date, l.ticker, post_id"""
    return _read(engine, query, {"definition": spec.definition, "flagged": bool(spec.rules)}, [*COLUMNS, "body"],
                 spec)


def _read(engine: Engine, query: str, params: dict, columns: list[str], spec: BacktestSpec) -> pd.DataFrame:
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute(query, params)
        frame = pd.DataFrame(cur.fetchall(), columns=columns)
    frame["ret"] = frame["ret"].astype(float)
    text = spec.text_spec  # the body (and comments) as the walk's models read it, like a snapshot's frozen one
    comments = frame.pop("comments") if "comments" in frame else [None] * len(frame)
    frame["body"] = [text.body(t, b, c if isinstance(c, str) else None) or None
                     for t, b, c in zip(frame["title"], frame["body"], comments)] if len(frame) else []
    return frame


def load_texts(engine: Engine, spec: BacktestSpec, source: str) -> pd.DataFrame:
    return LOADERS[text_source(source).name](engine, spec)


# How each source's labelled texts are read.
LOADERS = {BOARD.name: load_labelled_posts, NEWS.name: load_labelled_news, COMMENTS.name: load_labelled_comments}


def input_hash(texts: list[pd.DataFrame]) -> str:
    """What the backtest reads: a resume refuses to mix in changed labels, titles or stories. The
    lines of board posts are what they were before news existed (a board walk resumes as before)."""
    digest = hashlib.sha256()
    for frame in texts:
        story, body = frame.get("story"), frame.get("body")
        for i, row in enumerate(frame[COLUMNS].itertuples(index=False)):
            line = f"{row.ticker}\t{row.post_id}\t{row.label}\t{row.session_date}\t{row.ret!r}\t{row.title}"
            line += f"\t{story.iat[i]}" if story is not None else ""
            line += f"\t{body.iat[i]}" if body is not None and body.iat[i] is not None else ""  # a title walk: none
            digest.update((line + "\n").encode())
    return digest.hexdigest()


def per_story(scored: pd.DataFrame) -> pd.DataFrame:
    """One row per story of news (its articles' mean P(up); one (ticker, session) return), so an
    index counts a story once however many offices carried it; board posts are returned as they are."""
    if "story" not in scored:
        return scored
    return (scored.groupby(["ticker", "session_date", "story"], sort=True)
            .agg(p_up=("p_up", "mean"), ret=("ret", "first")).reset_index())
