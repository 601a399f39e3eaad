"""The text-source record: every table it names exists with the source's key columns, and the code
that asks it (labels, indexes, scoring, the registry, the export, the page) gets what each record says."""

from __future__ import annotations

import importlib

import pytest
import sqlalchemy as sa

from finsent.data.export_spec import SOURCES as EXPORT_SOURCES
from finsent.data.labels import STAMPED_SOURCES, SUBJECTS
from finsent.data.sources import (
    BOARD,
    COMMENTS,
    EVERY_SOURCE,
    NEWS,
    SOURCE_NAMES,
    TEXT_SOURCES,
    model_names,
    selected,
    source_of_table,
    text_source,
)
from finsent.errors import FinsentError
from finsent.ingest.runs import WRITTEN_TABLE
from finsent.ml.backtest.texts import LOADERS
from finsent.ml.comments_score import COMMENTS_INDEX
from finsent.ml.daily_index import BOARD_INDEX
from finsent.ml.news_index import NEWS_INDEX
from finsent.ml.news_score import SCORERS
from finsent.ml.registry import MODEL_NAMES, model_name
from finsent.ml.spec import SCORE_SOURCES, ScoreSpec


def _columns(conn, table: str) -> set[str]:
    return set(conn.execute(sa.text("SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
                                    "AND attnum > 0 AND NOT attisdropped"), {"t": table}).scalars())


def test_every_table_a_record_names_has_its_key_columns(engine):
    with engine.connect() as conn:
        for source in TEXT_SOURCES.values():
            keys = {"ticker", *source.keys}
            tables = {source.table, source.labels, source.flags, source.scores, *source.keyed}
            tables |= {source.checked} if source.checked else set()
            for table in tables:
                assert keys <= _columns(conn, table), (source.name, table)
            assert {source.time_column, *([source.story_key] if source.story_key else [])} <= _columns(
                conn, source.table)
            assert "rule" in _columns(conn, source.flags) and "p_up" in _columns(conn, source.scores)
            assert source.labels in source.keyed and source.flags in source.keyed and source.scores in source.keyed


def test_a_name_finds_its_record_and_an_unknown_one_is_a_clear_error():
    assert text_source("news") is NEWS and text_source(None) is BOARD and text_source("board") is BOARD
    assert text_source("comments") is COMMENTS
    with pytest.raises(FinsentError, match="unknown text source 'replies'; known: board, news, comments"):
        text_source("replies")
    assert selected(EVERY_SOURCE) == (BOARD, NEWS, COMMENTS) and selected("news") == (NEWS,)
    with pytest.raises(FinsentError, match="unknown text source"):
        selected("all")
    assert source_of_table("news") is NEWS and source_of_table("comments") is COMMENTS
    with pytest.raises(FinsentError, match="no text source keeps its texts in 'prices'"):
        source_of_table("prices")


def test_what_asks_the_record_gets_each_sources_own_names():
    assert SOURCE_NAMES == ("board", "news", "comments") and EXPORT_SOURCES == SOURCE_NAMES
    assert SCORE_SOURCES == ("board", "news", "comments", "both")
    # one registered model, one champion, per source; a dataset of both has its own
    assert MODEL_NAMES == model_names() == {"board": "finsent-updown", "news": "finsent-news-updown",
                                            "comments": "finsent-comments-updown", "both": "finsent-both-updown"}
    assert len(set(MODEL_NAMES.values())) == len(MODEL_NAMES) and model_name("news") == NEWS.model_name
    # labels: every source's texts, by its table, with its time column
    assert SUBJECTS["posts"] == ("labels", "posts p", ("post_id",))
    assert SUBJECTS["news"][0] == "news_labels" and "published_at AS posted_at" in SUBJECTS["news"][1]
    assert SUBJECTS["comments"][0] == "comment_labels" and "written_at AS posted_at" in SUBJECTS["comments"][1]
    assert STAMPED_SOURCES == {"posts": ("posts", "posted_at"), "news": ("news", "published_at"),
                               "comments": ("comments", "written_at")}
    # the daily index of each source is named as the source, over its scores
    assert (BOARD_INDEX.name, BOARD_INDEX.scores) == (BOARD.index, BOARD.scores)
    assert (NEWS_INDEX.name, NEWS_INDEX.scores) == (NEWS.index, NEWS.scores)
    assert (COMMENTS_INDEX.name, COMMENTS_INDEX.scores) == (COMMENTS.index, COMMENTS.scores)
    # each source has a scorer and a ScoreSpec option naming the version that scores it
    assert set(SCORERS) == set(TEXT_SOURCES) == set(LOADERS)  # and a backtest loader
    spec = ScoreSpec(alias="3", news_alias="7", comments_alias="9")
    assert [getattr(spec, s.alias_option) for s in TEXT_SOURCES.values()] == ["3", "7", "9"]
    # its crawler's runs analyse its table; its quality rules' module is there
    assert all(WRITTEN_TABLE[s.crawl] == s.table for s in TEXT_SOURCES.values())
    assert all(importlib.import_module(s.quality).__doc__ for s in TEXT_SOURCES.values())
    # the board's names are the ones it had before sources existed (task ids, metric names)
    assert BOARD.prefix == "" and NEWS.prefix == "news_" and COMMENTS.prefix == "comments_"
