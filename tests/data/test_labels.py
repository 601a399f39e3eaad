"""Exact labels on a hand-built calendar: weekends, holidays, a halt day, posts around the open."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from finsent.cli import main
from finsent.data.labels import LabelDefinition, label_posts
from finsent.errors import ConfigError
from tests.data.board import add_posts, add_prices, post, query

T = "005930"
# Wed 02-07 and Thu 02-08 trade; Fri 02-09 and Mon 02-12 are Seollal holidays (no rows); the
# weekend has no rows; Wed 02-14 is a trading halt (a row with volume 0: not a session).
CLOSES = {date(2024, 2, 7): 95, date(2024, 2, 8): 100, date(2024, 2, 13): 110, date(2024, 2, 14): 110,
          date(2024, 2, 15): 99, date(2024, 2, 16): 99, date(2024, 2, 19): 100.5, date(2024, 2, 20): 101}
HALT = (date(2024, 2, 14),)
POSTS = {  # name -> KST time
    "thu_0859": datetime(2024, 2, 8, 8, 59), "thu_0900": datetime(2024, 2, 8, 9, 0),
    "thu_1529": datetime(2024, 2, 8, 15, 29), "thu_1531": datetime(2024, 2, 8, 15, 31),
    "saturday": datetime(2024, 2, 10, 12, 0), "tue_2000": datetime(2024, 2, 13, 20, 0),
    "thu_1000": datetime(2024, 2, 15, 10, 0), "fri_1600": datetime(2024, 2, 16, 16, 0),
    "tue_2100": datetime(2024, 2, 20, 21, 0),
}


@pytest.fixture
def board(engine):
    add_prices(engine, T, CLOSES, halted=HALT)
    rows = [post(T, when, name, post_id=i) for i, (name, when) in enumerate(POSTS.items(), start=1)]
    add_posts(engine, rows)
    return {name: i for i, name in enumerate(POSTS, start=1)}


def labels(engine, definition):
    rows = query(engine, "SELECT p.title, l.session_date, l.base_date, l.target_date, round(l.ret::numeric, 5), "
                         "l.label FROM labels l JOIN posts p USING (ticker, post_id) WHERE l.definition = :d",
                 d=definition)
    return {r[0]: (*r[1:4], float(r[4]), r[5]) for r in rows}


D = date


def test_next_session_labels_are_exact(engine, board):
    report = label_posts(engine, LabelDefinition.build("next_session"))
    got = labels(engine, "next_session")
    assert got == {
        "thu_0859": (D(2024, 2, 8), D(2024, 2, 7), D(2024, 2, 8), 0.05263, "up"),   # before the open: today
        "thu_0900": (D(2024, 2, 13), D(2024, 2, 8), D(2024, 2, 13), 0.1, "up"),     # at the open: next session
        "thu_1529": (D(2024, 2, 13), D(2024, 2, 8), D(2024, 2, 13), 0.1, "up"),     # over the holidays
        "thu_1531": (D(2024, 2, 13), D(2024, 2, 8), D(2024, 2, 13), 0.1, "up"),
        "saturday": (D(2024, 2, 13), D(2024, 2, 8), D(2024, 2, 13), 0.1, "up"),
        "tue_2000": (D(2024, 2, 15), D(2024, 2, 13), D(2024, 2, 15), -0.1, "down"), # skips the halt day
        "thu_1000": (D(2024, 2, 16), D(2024, 2, 15), D(2024, 2, 16), 0.0, "flat"),  # a tie is its own class
        "fri_1600": (D(2024, 2, 19), D(2024, 2, 16), D(2024, 2, 19), 0.01515, "up"),
    }
    assert "tue_2100" not in got and report.unlabelled == 1  # no later price yet: no label, no guess
    assert (report.labelled, report.counts) == (8, {"up": 6, "down": 1, "flat": 1})


def test_same_day_reproduces_the_study(engine, board):
    label_posts(engine, LabelDefinition.build("same_day"))
    got = labels(engine, "same_day")
    assert {k: (v[0], v[4]) for k, v in got.items()} == {
        "thu_0859": (D(2024, 2, 8), "up"), "thu_0900": (D(2024, 2, 8), "up"), "thu_1529": (D(2024, 2, 8), "up"),
        "thu_1531": (D(2024, 2, 8), "up"),  # after the close: the move it "predicts" already happened
        "tue_2000": (D(2024, 2, 13), "up"), "thu_1000": (D(2024, 2, 15), "down"),
        "fri_1600": (D(2024, 2, 16), "flat"), "tue_2100": (D(2024, 2, 20), "up"),
    }  # the Saturday post has no session that day: no label


def test_band_and_horizon(engine, board):
    label_posts(engine, LabelDefinition.build("next_session", band="0.02"))
    banded = labels(engine, "next_session_b0.02")
    assert banded["fri_1600"][-1] == "flat" and banded["thu_0859"][-1] == "up" and banded["tue_2000"][-1] == "down"
    label_posts(engine, LabelDefinition.build("next_session", horizon=2))
    two = labels(engine, "next_session_h2")
    # entry 02-13, two sessions on: the close of 02-15 (99) against 02-08 (100)
    assert two["thu_0900"] == (D(2024, 2, 13), D(2024, 2, 8), D(2024, 2, 15), -0.01, "down")
    assert two["fri_1600"] == (D(2024, 2, 19), D(2024, 2, 16), D(2024, 2, 20), 0.0202, "up")
    assert "tue_2100" not in two  # its session (02-21) has no price yet
    assert set(query(engine, "SELECT name FROM label_definitions")) == {("next_session_b0.02",),
                                                                       ("next_session_h2",)}


def test_incremental_after_new_and_changed_prices(engine, board):
    label_posts(engine, LabelDefinition.build("next_session"))
    assert label_posts(engine, LabelDefinition.build("next_session")).labelled == 0  # idempotent
    add_prices(engine, T, {date(2024, 2, 21): 105})
    report = label_posts(engine, LabelDefinition.build("next_session"))
    assert report.labelled == 1 and labels(engine, "next_session")["tue_2100"][-1] == "up"
    # a re-fetch changes 02-13 (say, adjusted after a split): every label that used it is redone
    add_prices(engine, T, {date(2024, 2, 13): 90})
    report = label_posts(engine, LabelDefinition.build("next_session"))
    assert report.labelled == 5 and report.relabelled == 5
    got = labels(engine, "next_session")
    assert got["thu_0900"][-2:] == (-0.1, "down") and got["tue_2000"][-2:] == (0.1, "up")
    assert len(got) == 9


def test_split_day_uses_adjusted_prices(engine):
    # 50:1 split between 2018-04-27 and 2018-05-04 (the halt on 04-30..05-03); adjusted closes are continuous
    add_prices(engine, T, {date(2018, 4, 26): 52000, date(2018, 4, 27): 53000, date(2018, 5, 4): 51900})
    add_posts(engine, [post(T, datetime(2018, 4, 28, 10, 0), "split weekend", post_id=77)])
    label_posts(engine, LabelDefinition.build("next_session"))
    ((ret, label),) = query(engine, "SELECT round(ret::numeric, 4), label FROM labels")
    assert (float(ret), label) == (-0.0208, "down")  # 53,000 -> 51,900, not 2,650,000 -> 51,900


@pytest.mark.parametrize("args, message", [
    (["label", "--definition", "tomorrow"], "unknown label definition"),
    (["label", "--band", "-0.01"], "--band must be >= 0"),
    (["label", "--band", "abc"], "is not a number"),
])
def test_bad_label_input_exits_2_and_writes_nothing(engine, board, args, message, caplog):
    assert main(args) == 2
    assert message in caplog.text
    assert query(engine, "SELECT count(*) FROM labels") == [(0,)]
    assert query(engine, "SELECT count(*) FROM label_definitions") == [(0,)]


def test_a_name_cannot_change_meaning(engine, board):
    label_posts(engine, LabelDefinition.build("next_session", name="mine"))
    with pytest.raises(ConfigError, match="exists with rule=next_session"):
        label_posts(engine, LabelDefinition.build("same_day", name="mine"))
