"""``finsent dataset build --source board|news|both``: news snapshots, each row keeping its source."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pandas as pd
import pytest

from finsent.cli import main
from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from finsent.data.labels import LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.data.snapshots import load_snapshot
from finsent.ingest.records import KST, NewsRow
from tests.data.board import add_news, query
from tests.data.test_datasets import TICKERS, WORDS, board  # noqa: F401 -- the board fixture


@pytest.fixture
def news(engine, board):  # noqa: F811 -- the board fixture, with news on the same sessions
    rng = random.Random(11)
    days = sorted({d for (d,) in query(engine, "SELECT DISTINCT trade_date FROM prices")})
    rows, article = [], iter(range(1, 10**6))
    for ticker in TICKERS:
        for day in days[:-1]:
            for k in range(3):
                when = (datetime.combine(day, datetime.min.time()) + timedelta(hours=8 + 4 * k)).replace(tzinfo=KST)
                number = f"{next(article):010d}"
                title = " ".join(rng.sample(WORDS, 3)) + " 뉴스"
                rows.append(NewsRow(ticker, "015", number, when, title, None, None, f"015/{number}", "test"))
                if k == 0:  # re-carried by another office: one story, the copy is flagged
                    rows.append(NewsRow(ticker, "009", number, when + timedelta(minutes=3), title, None, None,
                                        f"015/{number}", "test"))
    add_news(engine, rows)
    label_posts(engine, LabelDefinition.build("next_open_close"))
    check_quality(engine)
    return rows


def test_a_news_snapshot_holds_news_only_and_counts_a_story_once(engine, news):
    summary = build_dataset(engine, "news1", DatasetSpec(source="news"), load_settings().data_dir)
    labelled = query(engine, "SELECT count(*) FROM news_labels l WHERE definition = 'next_open_close' AND "
                             "label IN ('up', 'down') AND NOT EXISTS (SELECT 1 FROM news_flags f WHERE "
                             "(f.ticker, f.office_id, f.article_id) = (l.ticker, l.office_id, l.article_id))")[0][0]
    stored = query(engine, "SELECT source, count(*), min(post_id) < 0, count(*) FILTER (WHERE office_id = '009') "
                           "FROM dataset_rows WHERE dataset = 'news1' GROUP BY source")
    assert [row[:3] for row in stored] == [("news", summary.rows, True)] and stored[0][3] == 0  # no copies
    assert summary.rows <= labelled  # at most: time-split embargo and cross-part titles drop some
    snapshot = load_snapshot(engine, "news1")  # the hash verifies
    assert snapshot.spec["source"] == "news"
    exported = pd.read_parquet(load_settings().data_dir / "datasets" / "news1" / "train.parquet")
    assert set(exported["source"]) == {"news"}


def test_both_keeps_each_rows_source_and_board_is_unchanged(engine, news):
    data_dir = load_settings().data_dir
    board_only = build_dataset(engine, "b", DatasetSpec(), data_dir)
    explicit = build_dataset(engine, "b2", DatasetSpec(source="board"), data_dir)
    assert board_only.content_hash == explicit.content_hash  # the default is the board, as before
    assert query(engine, "SELECT spec ? 'source' FROM datasets WHERE name = 'b'")[0][0] is False
    both = build_dataset(engine, "both", DatasetSpec(source="both"), data_dir)
    sources = dict(query(engine, "SELECT source, count(*) FROM dataset_rows WHERE dataset = 'both' GROUP BY source"))
    assert set(sources) == {"board", "news"} and sum(sources.values()) == both.rows
    assert query(engine, "SELECT count(*) FROM dataset_rows r WHERE dataset = 'both' AND source = 'news' AND NOT "
                         "EXISTS (SELECT 1 FROM news n WHERE (n.ticker, n.office_id, n.article_id, -n.item_id) = "
                         "(r.ticker, r.office_id, r.article_id, r.post_id))")[0][0] == 0


def test_the_cli_offers_the_source(engine, news, capsys):
    assert main(["dataset", "build", "n", "--source", "news"]) == 0
    with pytest.raises(SystemExit) as refused:
        main(["dataset", "build", "x", "--source", "tv"])
    assert refused.value.code == 2 and "invalid choice: 'tv'" in capsys.readouterr().err
    assert query(engine, "SELECT count(DISTINCT source) FROM dataset_rows WHERE dataset = 'n'")[0][0] == 1
