"""The cross-split title rule: a repeated title leaves a later part only when it is the same story
(the same stock, within ``SAME_STORY_WINDOW`` of its copy in an earlier part), and the manifest
counts what it dropped. A template headline weeks apart is a new event and stays."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from finsent.config import load_settings
from finsent.data.build import SAME_STORY_WINDOW, DatasetSpec, build_dataset
from finsent.data.labels import LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.ingest.records import KST, NewsRow
from tests.data.board import add_news, query
from tests.data.test_datasets import TICKERS, board  # noqa: F401 -- the board fixture
from tests.data.test_news_datasets import news  # noqa: F401 -- news on the board's sessions

TEMPLATE = "[특징주] 삼성전자, 외국인 순매수"


def _add_template_every_week(engine) -> int:
    days = sorted({d for (d,) in query(engine, "SELECT DISTINCT trade_date FROM prices")})[:-1:5]  # a week apart
    rows = [NewsRow("005930", "277", f"{9 * 10**8 + k:010d}",
                    datetime.combine(day, datetime.min.time()).replace(hour=10, tzinfo=KST), TEMPLATE, None, None,
                    f"277/{9 * 10**8 + k:010d}", "test") for k, day in enumerate(days)]
    add_news(engine, rows)
    label_posts(engine, LabelDefinition.build("next_open_close"))
    check_quality(engine)
    return len(rows)


def _stories_in_two_parts(engine, dataset: str) -> int:
    """(earlier, later) row pairs of one stock and one title, in two parts, within the window."""
    return query(engine, """
        SELECT count(*) FROM dataset_rows a JOIN dataset_rows b
          ON a.dataset = b.dataset AND a.ticker = b.ticker AND a.title = b.title AND a.split <> b.split
        JOIN news na ON (na.ticker, na.office_id, na.article_id) = (a.ticker, a.office_id, a.article_id)
        JOIN news nb ON (nb.ticker, nb.office_id, nb.article_id) = (b.ticker, b.office_id, b.article_id)
        WHERE a.dataset = :d AND abs(extract(epoch FROM na.published_at - nb.published_at)) < :w""",
                 d=dataset, w=SAME_STORY_WINDOW.total_seconds())[0][0]


def test_a_template_headline_a_week_apart_stays_in_every_part(engine, news):  # noqa: F811
    added = _add_template_every_week(engine)
    summary = build_dataset(engine, "t", DatasetSpec(source="news"), load_settings().data_dir)
    parts = query(engine, "SELECT split, count(*) FROM dataset_rows WHERE dataset = 't' AND title = :t "
                          "GROUP BY split ORDER BY split", t=TEMPLATE)
    assert {split for split, _ in parts} == {"train", "valid", "test"}, parts  # under the old rule: train only
    assert sum(n for _, n in parts) >= added - 2  # at most the embargo's sessions left out
    manifest = json.loads((summary.path / "manifest.json").read_text())
    assert manifest["dropped_same_story"]["window_hours"] == 24 and manifest["dropped_same_story"]["rows"] == {}


def test_a_wire_story_re_carried_within_minutes_is_dropped_and_counted(engine, news):  # noqa: F811
    # --rules none keeps the re-carried copies (the news rules would flag them); the study's random
    # split scatters rows minutes apart over the parts: each story must still live in one part
    spec = DatasetSpec(source="news", rules=(), split="random", valid_frac=0.2, test_frac=0.2)
    summary = build_dataset(engine, "wire", spec, load_settings().data_dir)
    assert _stories_in_two_parts(engine, "wire") == 0
    dropped = summary.dropped_same_story
    assert dropped and set(dropped) <= {"valid", "test"} and sum(dropped.values()) > 5, dropped
    copies = query(engine, "SELECT count(*) FROM dataset_rows WHERE dataset = 'wire' AND office_id = '009'")[0][0]
    assert copies > 0  # a copy whose original fell in a later part (or was drawn into the same one) stays
    manifest = json.loads((summary.path / "manifest.json").read_text())
    assert manifest["dropped_same_story"]["rows"] == dropped
    total = query(engine, "SELECT count(*) FROM news_labels WHERE definition = 'next_open_close' AND "
                          "label IN ('up', 'down')")[0][0]
    assert summary.rows == total - sum(dropped.values())  # nothing else left out: the window drops only copies


def test_the_same_title_on_another_stock_is_another_story(engine, news):  # noqa: F811
    days = sorted({d for (d,) in query(engine, "SELECT DISTINCT trade_date FROM prices")})[:-1]
    title = "반도체 업황 회복 기대"
    rows = [NewsRow(ticker, "421", f"{8 * 10**8 + 100 * i + k:010d}",
                    datetime.combine(day, datetime.min.time()).replace(hour=11, tzinfo=KST) + timedelta(minutes=k),
                    title, None, None, f"421/{8 * 10**8 + 100 * i + k:010d}", "test")
            for i, day in enumerate(days) for k, ticker in enumerate(TICKERS)]
    add_news(engine, rows)
    label_posts(engine, LabelDefinition.build("next_open_close"))
    check_quality(engine)
    spec = DatasetSpec(source="news", rules=(), split="random", valid_frac=0.2, test_frac=0.2)
    build_dataset(engine, "two", spec, load_settings().data_dir)
    kept = query(engine, "SELECT count(*) FROM dataset_rows WHERE dataset = 'two' AND title = :t", t=title)[0][0]
    # one a day per stock: a day apart on one stock, a minute apart across the two: none is a copy
    assert kept == len(rows)
