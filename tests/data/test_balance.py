"""--balance subsamples by label inside each part, after the split: the boundaries do not move."""

from __future__ import annotations

from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from tests.data.board import query
from tests.ml.board import make_board

PARTS = """SELECT split, min(session_date), max(session_date), count(*) FILTER (WHERE label = 'up'),
                  count(*) FILTER (WHERE label = 'down') FROM dataset_rows WHERE dataset = :d GROUP BY split"""


def test_balance_inside_each_part_keeps_the_split_boundaries(engine):
    settings = load_settings()
    make_board(engine, planted=True, seed=5)
    for name, balance in (("plain", False), ("balanced", True)):
        build_dataset(engine, name, DatasetSpec(definition="next_session", balance=balance), settings.data_dir)
    plain = {row[0]: row[1:] for row in query(engine, PARTS, d="plain")}
    balanced = {row[0]: row[1:] for row in query(engine, PARTS, d="balanced")}
    assert set(balanced) == {"train", "valid", "test"}
    for part, (first, last, ups, downs) in balanced.items():
        assert (first, last) == plain[part][:2], part  # the same boundaries as without --balance
        assert ups == downs == min(plain[part][2:]), part  # each part 50/50 on its own
    assert any(plain[p][2] != plain[p][3] for p in plain)  # the board is not balanced to begin with
    outside = query(engine, "SELECT count(*) FROM dataset_rows b JOIN dataset_rows p ON p.dataset = 'plain' "
                            "AND p.ticker = b.ticker AND p.post_id = b.post_id WHERE b.dataset = 'balanced' "
                            "AND b.split <> p.split")
    assert outside == [(0,)]  # a kept row sits in the part it had without --balance


def test_balance_per_class_caps_the_selection_first(engine):
    settings = load_settings()
    make_board(engine, planted=True, seed=5)
    build_dataset(engine, "capped", DatasetSpec(definition="next_session", per_class=300, balance=True),
                  settings.data_dir)
    rows = query(engine, PARTS, d="capped")
    assert sum(r[3] for r in rows) <= 300 and sum(r[4] for r in rows) <= 300
    assert all(r[3] == r[4] for r in rows)
