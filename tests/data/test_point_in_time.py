"""Point in time: datasets and backtests use a ticker's posts only for the sessions it was in the universe."""

from __future__ import annotations

from datetime import date

import pytest

from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from finsent.ingest.universe import import_universe
from finsent.ml.backtest.walk import BacktestSpec, load_labelled_posts
from tests.data.board import query
from tests.ml.board import make_board

# 000660 was in the universe in February, left, and came back from 2024-03-25; 005930 has no
# range at all (always a member).
UNIVERSE = """code,name,member_from,member_to
000660,SK하이닉스,2024-02-01,2024-02-29
000660,SK하이닉스,2024-03-25,
"""


def in_ranges(day: date) -> bool:
    return date(2024, 2, 1) <= day <= date(2024, 2, 29) or day >= date(2024, 3, 25)


@pytest.fixture
def board(engine, tmp_path):
    make_board(engine, planted=False, sessions=70, per_session=6)
    path = tmp_path / "universe.csv"
    path.write_text(UNIVERSE, encoding="utf-8")
    return path


def sessions_by_ticker(pairs) -> dict[str, set[date]]:
    found: dict[str, set[date]] = {}
    for ticker, day in pairs:
        found.setdefault(ticker, set()).add(day)
    return found


def test_a_dataset_holds_a_ticker_only_while_it_was_a_member(engine, board):
    data_dir = load_settings().data_dir
    before = build_dataset(engine, "all", DatasetSpec(), data_dir)
    everything = sessions_by_ticker(query(engine, "SELECT ticker, session_date FROM dataset_rows "
                                              "WHERE dataset = 'all'"))
    assert any(not in_ranges(d) for d in everything["000660"])  # the board has sessions outside the ranges

    import_universe(engine, board)
    after = build_dataset(engine, "pit", DatasetSpec(), data_dir)
    kept = sessions_by_ticker(query(engine, "SELECT ticker, session_date FROM dataset_rows WHERE dataset = 'pit'"))
    assert kept["000660"] and all(in_ranges(d) for d in kept["000660"])
    assert kept["005930"] == everything["005930"]  # no ranges: always a member, nothing changes
    assert after.rows < before.rows and after.content_hash != before.content_hash


def test_a_backtest_reads_a_ticker_only_while_it_was_a_member(engine, board):
    everything = load_labelled_posts(engine, BacktestSpec())
    import_universe(engine, board)
    kept = load_labelled_posts(engine, BacktestSpec())
    sk = kept[kept.ticker == "000660"]
    assert len(sk) and all(in_ranges(d) for d in sk.session_date)
    assert len(sk) == sum(in_ranges(d) for d in everything[everything.ticker == "000660"].session_date)
    samsung = kept[kept.ticker == "005930"]
    assert list(samsung.post_id) == list(everything[everything.ticker == "005930"].post_id)
