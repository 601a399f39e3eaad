"""The text sources: what finsent reads sentiment from (board posts, news headlines, comments),
one record each (``TextSource``). Code that treats a source's texts asks its record for the table,
keys, labels, flags, scores, registered model, index and crawler instead of comparing names, so a
third source is one more record here (and the tables it names), not one more branch everywhere.

"Source" means only this here. The other things once called so have their own words: a crawl's
*feed* (``finsent.ingest.feeds``: the board's HTML or JSON pages, the news JSON, the price feeds),
a row's *origin* (``finsent.data.origin``: crawled or imported), and the two selections a user may
give instead of one source's name: the dataset's and the score step's ``both`` (every source, see
``EVERY_SOURCE``) and the backtest's ``both`` (every source walked, then compared).

Standard library only: the DAG files import it at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass

from finsent.errors import FinsentError


@dataclass(frozen=True)
class TextSource:
    """One kind of text and everything keyed by it."""

    name: str  # what users type (--source, ?source=) and daily_sentiment.source / backtest_daily.source
    table: str  # the texts, one row per (ticker, *keys)
    keys: tuple[str, ...]  # the id columns beside ticker
    story_key: str | None  # the column that groups copies of one story (counted once), if its texts have one
    time_column: str  # when the text was written (the labels' day map reads it)
    labels: str  # the label table (definition, ticker, *keys, ...)
    flags: str  # the quality flags table (ticker, *keys, rule)
    checked: str | None  # a row per text its quality check has seen (None: its check writes flags only)
    scores: str  # the scores table (model_version, ticker, *keys, p_up)
    keyed: tuple[str, ...]  # every table keyed by the texts' rows (dropped with a text that is gone)
    model_name: str  # the registered model trained on this source's texts: one champion per source
    alias_option: str  # the ScoreSpec field naming the version that scores it (an alias or a number)
    quality: str  # the module whose rules flag these texts
    crawl: str  # the crawl_runs.kind of its crawler (`finsent crawl ...`)
    items: str  # its texts in a sentence ("12 posts scored")
    noun: str  # one text in a report or on the page ("post", "headline")
    heading: str  # its texts in a title ("## Board posts")
    prefix: str  # before the names made per source (DAG task ids, metric and column names); "" for the board

    @property
    def index(self) -> str:
        """Its index's name in daily_sentiment.source (and the page's ?source=)."""
        return self.name


BOARD = TextSource(
    name="board", table="posts", keys=("post_id",), story_key=None, time_column="posted_at",
    labels="labels", flags="post_flags", checked="post_quality", scores="post_scores",
    keyed=("labels", "post_quality", "post_flags", "post_scores"),
    model_name="finsent-updown", alias_option="alias", quality="finsent.data.quality", crawl="crawl",
    items="posts", noun="post", heading="Board posts", prefix="")
NEWS = TextSource(
    name="news", table="news", keys=("office_id", "article_id"), story_key="story_key", time_column="published_at",
    labels="news_labels", flags="news_flags", checked=None, scores="news_scores",
    keyed=("news_labels", "news_flags", "news_scores"),
    model_name="finsent-news-updown", alias_option="news_alias", quality="finsent.data.news_quality",
    crawl="crawl-news", items="news articles", noun="headline", heading="News headlines", prefix="news_")
# Comments under board posts (issue 30): one row per (ticker, post_id, comment_no); the text is the
# comment's (read as a title: a comment has no body), its time when it was written.
COMMENTS = TextSource(
    name="comments", table="comments", keys=("post_id", "comment_no"), story_key=None, time_column="written_at",
    labels="comment_labels", flags="comment_flags", checked=None, scores="comment_scores",
    keyed=("comment_labels", "comment_flags", "comment_scores"),
    model_name="finsent-comments-updown", alias_option="comments_alias", quality="finsent.data.comment_quality",
    crawl="crawl-comments", items="comments", noun="comment", heading="Comments", prefix="comments_")

# In the order they are shown and walked; the board first (the default everywhere).
TEXT_SOURCES: dict[str, TextSource] = {source.name: source for source in (BOARD, NEWS, COMMENTS)}
SOURCE_NAMES: tuple[str, ...] = tuple(TEXT_SOURCES)
DEFAULT_SOURCE = BOARD.name

# The selection "every source" (a dataset of both sources' rows, each keeping its source; scoring
# every source that has a champion). Its spelling predates a third source and stays for users.
EVERY_SOURCE = "both"
# The registered model of a dataset of every source's rows.
EVERY_SOURCE_MODEL_NAME = "finsent-both-updown"


def text_source(name: str | None) -> TextSource:
    """The record of source ``name`` (None: the board, as before sources); a clear error for another name."""
    try:
        return TEXT_SOURCES[name or DEFAULT_SOURCE]
    except KeyError:
        raise FinsentError(f"unknown text source {name!r}; known: {', '.join(TEXT_SOURCES)}") from None


def selected(name: str) -> tuple[TextSource, ...]:
    """The sources a selection names: one source, or every one for ``EVERY_SOURCE``."""
    return tuple(TEXT_SOURCES.values()) if name == EVERY_SOURCE else (text_source(name),)


def source_of_table(table: str) -> TextSource:
    """The source whose texts live in ``table`` (posts, news, comments)."""
    for source in TEXT_SOURCES.values():
        if source.table == table:
            return source
    raise FinsentError(f"no text source keeps its texts in {table!r}; known: "
                       f"{', '.join(s.table for s in TEXT_SOURCES.values())}")


def model_names() -> dict[str, str]:
    """The registered model of each dataset selection (a source, or every source): one champion each."""
    return {**{s.name: s.model_name for s in TEXT_SOURCES.values()}, EVERY_SOURCE: EVERY_SOURCE_MODEL_NAME}
