"""A news snapshot refuses news labels a later price made stale, as a board snapshot refuses posts'."""

from __future__ import annotations

import pytest

from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from finsent.data.labels import LabelDefinition, count_stale_labels, label_posts
from finsent.errors import FinsentError
from tests.data.board import query
from tests.data.test_datasets import board  # noqa: F401 -- fixtures
from tests.data.test_news_datasets import news  # noqa: F401


def test_stale_news_labels_refuse_a_news_snapshot(engine, news):  # noqa: F811
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM labels")  # no post label at all: only the news labels can be stale
        conn.exec_driver_sql("UPDATE prices SET close = close + 1, high = greatest(high, close + 1), "
                             "fetched_at = now() WHERE (ticker, trade_date) = (SELECT ticker, session_date "
                             "FROM news_labels ORDER BY session_date DESC, ticker LIMIT 1)")
    data_dir = load_settings().data_dir
    with pytest.raises(FinsentError, match="labels under 'next_open_close' use prices that changed"):
        build_dataset(engine, "stale", DatasetSpec(source="news"), data_dir)
    assert query(engine, "SELECT count(*) FROM datasets WHERE name = 'stale'") == [(0,)]
    with engine.connect() as conn:  # the posts' check alone would have let it through
        cur = conn.connection.cursor()
        assert count_stale_labels(cur, "next_open_close") == 0
        assert count_stale_labels(cur, "next_open_close", table="news_labels") > 0
    label_posts(engine, LabelDefinition.build("next_open_close"))  # relabels them
    assert build_dataset(engine, "stale", DatasetSpec(source="news"), data_dir).rows > 0
