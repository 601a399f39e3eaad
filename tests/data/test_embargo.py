"""One meaning of the embargo: the sessions skipped between the last training session and the
first scored one, plus h - 1 for a horizon-h label, in a snapshot's time split and in a walk."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from finsent.data.labels import LabelDefinition, label_posts
from finsent.ml.backtest.walk import BacktestSpec, plan_steps
from tests.data.board import add_posts, add_prices, post, query
from tests.data.test_datasets import business_days

TICKERS = ("005930", "000660")


@pytest.fixture
def calendar(engine):
    """30 sessions, two stocks, every move up or down (never flat), four posts each evening."""
    rng = random.Random(3)
    sessions = business_days(datetime(2024, 4, 1).date(), 30)
    rows = []
    for n, ticker in enumerate(TICKERS):
        closes, price = {}, 1000.0
        for day in sessions:
            price *= 1 + rng.choice([-0.02, 0.02])
            closes[day] = round(price, 2)
        add_prices(engine, ticker, closes, opens=dict(zip(sessions[1:], (closes[d] for d in sessions[:-1]))))
        rows += [post(ticker, datetime.combine(day, datetime.min.time()) + timedelta(hours=18, minutes=k),
                      f"글 {ticker} {day} {k}", post_id=n * 1000 + i * 4 + k)
                 for i, day in enumerate(sessions) for k in range(4)]
    add_posts(engine, rows)
    return sessions


def between(sessions, earlier, later) -> int:
    return sum(1 for d in sessions if earlier < d < later)


@pytest.mark.parametrize("embargo, horizon", [(1, 1), (2, 1), (1, 3), (3, 2)])
def test_snapshot_and_walk_skip_the_same_sessions(engine, calendar, embargo, horizon):
    definition = LabelDefinition.build("next_open_close", horizon=horizon)
    label_posts(engine, definition)
    sessions = sorted(d for (d,) in query(engine, "SELECT DISTINCT session_date FROM labels WHERE definition = :d",
                                          d=definition.name))
    skipped = embargo + horizon - 1
    build_dataset(engine, "e", DatasetSpec(definition=definition.name, rules=(), valid_frac=0.2, test_frac=0.2,
                                           embargo=embargo), load_settings().data_dir)
    parts = {split: sorted(d for (d,) in query(engine, "SELECT DISTINCT session_date FROM dataset_rows "
                                                       "WHERE split = :s", s=split))
             for split in ("train", "valid", "test")}
    assert between(sessions, parts["train"][-1], parts["valid"][0]) == skipped
    assert between(sessions, parts["valid"][-1], parts["test"][0]) == skipped
    steps = plan_steps(sessions, BacktestSpec(definition=definition.name, train_sessions=10, step_sessions=3,
                                              embargo=embargo), horizon)
    assert steps and steps[0].train_from == sessions[0]
    for step in steps:
        assert between(sessions, step.train_through, step.score_from) == skipped
        assert sum(1 for d in sessions if step.train_from <= d <= step.train_through) == 10
