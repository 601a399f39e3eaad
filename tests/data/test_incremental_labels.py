"""Labels are incremental: a run writes the labels of new posts and rewrites only those a changed price
feeds; every other label row keeps its Postgres identity (ctid and xmin). What the increments built
equals a from-scratch labelling of the same posts and prices."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from finsent.data.labels import STANDARD_DEFINITIONS, LabelDefinition, label_posts
from finsent.ingest.importer import import_prices
from tests.data.board import add_posts, add_prices, post, query
from tests.ml.board import make_board

IDENTITY = "SELECT definition, ticker, post_id, ctid::text, xmin::text FROM labels"
VALUES = ("SELECT ticker, post_id, session_date, base_date, target_date, round(ret::numeric, 9), label FROM labels "
          "WHERE definition = :d")


def identities(engine) -> dict[tuple, tuple]:
    return {(d, t, p): (ctid, xmin) for d, t, p, ctid, xmin in query(engine, IDENTITY)}


def rewritten(before: dict, after: dict) -> set[tuple]:
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def label_all(engine) -> int:
    reports = [label_posts(engine, LabelDefinition.build(rule)) for rule in STANDARD_DEFINITIONS]
    assert all(r.read is not None for r in reports)  # after the board's first run: only what changed is read
    return sum(r.labelled for r in reports)


def agrees_with_a_scratch_labelling(engine) -> bool:
    """Label everything again under a fresh name per rule; the rows must equal the incremental ones."""
    for rule in STANDARD_DEFINITIONS:
        label_posts(engine, LabelDefinition.build(rule, name=f"scratch_{rule}"))
        if set(query(engine, VALUES, d=rule)) != set(query(engine, VALUES, d=f"scratch_{rule}")):
            return False
    return True


@pytest.fixture
def board(engine):
    make_board(engine, planted=False, sessions=30, per_session=6)
    return sorted({d for (d,) in query(engine, "SELECT trade_date FROM prices WHERE ticker = '005930'")})


def test_a_new_day_writes_only_the_new_labels(engine, board):
    before = identities(engine)
    last = board[-1]
    evening = datetime.combine(last, datetime.min.time()) + timedelta(hours=19)
    add_posts(engine, [post("005930", evening, "새글 매수", post_id=900_001),
                       post("000660", evening, "새글 매도", post_id=900_002)])
    assert label_all(engine) == 0  # no session after them yet: no label, no guess
    assert rewritten(before, identities(engine)) == set()
    nxt = last + timedelta(days=3 if last.isoweekday() == 5 else 1)
    (close,), = query(engine, "SELECT close FROM prices WHERE ticker = '005930' AND trade_date = :d", d=last)
    add_prices(engine, "005930", {nxt: float(close) * 1.01}, opens={nxt: float(close)})
    assert label_all(engine) == 2  # one per standard definition: the 005930 post's session has come
    changed = rewritten(before, identities(engine))
    assert changed == {(rule, "005930", 900_001) for rule in STANDARD_DEFINITIONS}  # nothing else touched
    assert label_all(engine) == 0 and rewritten(before, identities(engine)) == changed
    assert agrees_with_a_scratch_labelling(engine)


def test_a_history_rewrite_of_one_ticker_relabels_only_the_labels_it_feeds(engine, board, tmp_path: Path):
    before = identities(engine)
    bars = query(engine, "SELECT trade_date, open, high, low, close, volume FROM prices WHERE ticker = '000660' "
                         "ORDER BY trade_date")
    day, o, h, low, c, v = bars[15]
    path = tmp_path / "rewrite.csv"
    path.write_text(f"ticker,date,open,high,low,close,volume\n000660,{day},{o},{h + 50},{low},{c + 50},{v}\n",
                    encoding="utf-8")
    import_prices(engine, path)
    label_all(engine)
    changed = rewritten(before, identities(engine))
    fed = {(rule, t, p) for rule, t, p in query(engine, "SELECT definition, ticker, post_id FROM labels WHERE "
                                                        "ticker = '000660' AND :d BETWEEN base_date AND target_date",
                                                d=day)}
    assert changed and changed == fed  # every label that used the bar, and only those
    assert agrees_with_a_scratch_labelling(engine)
