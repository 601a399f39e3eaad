"""Exact labels on a hand-built calendar: weekends, holidays, a halt day, posts around the open."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from finsent.cli import main
from finsent.data.labels import STANDARD_DEFINITIONS, LabelDefinition, label_posts
from finsent.errors import ConfigError
from tests.data.board import add_posts, add_prices, post, query

T = "005930"
# Wed 02-07 and Thu 02-08 trade; Fri 02-09 and Mon 02-12 are Seollal holidays (no rows); the
# weekend has no rows; Wed 02-14 is a trading halt (a row with volume 0: not a session).
CLOSES = {date(2024, 2, 7): 95, date(2024, 2, 8): 100, date(2024, 2, 13): 110, date(2024, 2, 14): 110,
          date(2024, 2, 15): 99, date(2024, 2, 16): 99, date(2024, 2, 19): 100.5, date(2024, 2, 20): 101}
HALT = (date(2024, 2, 14),)
# the opens: overnight gaps (02-13 opens at 104 after 100; 02-15 at 108 after 110); the halt day
# and 02-20 open at their close
OPENS = {date(2024, 2, 7): 95, date(2024, 2, 8): 97, date(2024, 2, 13): 104, date(2024, 2, 15): 108,
         date(2024, 2, 16): 99, date(2024, 2, 19): 99.5}
POSTS = {  # name -> KST time
    "thu_0859": datetime(2024, 2, 8, 8, 59), "thu_0900": datetime(2024, 2, 8, 9, 0),
    "thu_1529": datetime(2024, 2, 8, 15, 29), "thu_1531": datetime(2024, 2, 8, 15, 31),
    "saturday": datetime(2024, 2, 10, 12, 0), "tue_2000": datetime(2024, 2, 13, 20, 0),
    "thu_1000": datetime(2024, 2, 15, 10, 0), "fri_1600": datetime(2024, 2, 16, 16, 0),
    "tue_2100": datetime(2024, 2, 20, 21, 0),
}


@pytest.fixture
def board(engine):
    add_prices(engine, T, CLOSES, halted=HALT, opens=OPENS)
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
    (["label", "--rule", "tomorrow"], "unknown label rule 'tomorrow'"),
    (["label", "--definition", "tomorrow"], "unknown label rule 'tomorrow'"),  # the deprecated spelling
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


def test_next_open_close_pays_the_session_from_its_open(engine, board):
    report = label_posts(engine, LabelDefinition.build("next_open_close"))
    got = labels(engine, "next_open_close")
    session_13 = (D(2024, 2, 13), D(2024, 2, 8), D(2024, 2, 13), 0.05769, "up")  # 104 -> 110, not 100 -> 110
    assert got == {
        "thu_0859": (D(2024, 2, 8), D(2024, 2, 7), D(2024, 2, 8), 0.03093, "up"),     # 97 -> 100
        "thu_0900": session_13, "thu_1529": session_13, "thu_1531": session_13, "saturday": session_13,
        "tue_2000": (D(2024, 2, 15), D(2024, 2, 13), D(2024, 2, 15), -0.08333, "down"),  # 108 -> 99, past the halt
        "thu_1000": (D(2024, 2, 16), D(2024, 2, 15), D(2024, 2, 16), 0.0, "flat"),      # 99 -> 99
        "fri_1600": (D(2024, 2, 19), D(2024, 2, 16), D(2024, 2, 19), 0.01005, "up"),    # 99.5 -> 100.5
    }
    assert "tue_2100" not in got and report.unlabelled == 1
    # the same session as next_session for every post: only where the return starts differs
    label_posts(engine, LabelDefinition.build("next_session"))
    close_to_close = labels(engine, "next_session")
    assert {k: v[:3] for k, v in got.items()} == {k: v[:3] for k, v in close_to_close.items()}
    two = labels(engine, label_posts(engine, LabelDefinition.build("next_open_close", horizon=2)).definition)
    assert two["thu_0900"] == (D(2024, 2, 13), D(2024, 2, 8), D(2024, 2, 15), -0.04808, "down")  # 104 -> 99
    assert two["fri_1600"] == (D(2024, 2, 19), D(2024, 2, 16), D(2024, 2, 20), 0.01508, "up")   # 99.5 -> 101


def test_the_overnight_gap_is_not_tradable(engine):
    # a post at 22:00 on Monday: its session is Tuesday. The whole move is the overnight gap (Monday
    # closes at 100, Tuesday opens at 105 and closes there): public before the open, not tradable.
    add_prices(engine, T, {D(2024, 3, 4): 100, D(2024, 3, 5): 105}, opens={D(2024, 3, 5): 105})
    add_posts(engine, [post(T, datetime(2024, 3, 4, 22, 0), "monday night", post_id=1)])
    for rule in STANDARD_DEFINITIONS:
        label_posts(engine, LabelDefinition.build(rule))
    assert labels(engine, "next_session") == {"monday night": (D(2024, 3, 5), D(2024, 3, 4), D(2024, 3, 5),
                                                               0.05, "up")}
    assert labels(engine, "next_open_close") == {"monday night": (D(2024, 3, 5), D(2024, 3, 4), D(2024, 3, 5),
                                                                  0.0, "flat")}


def test_next_open_close_on_the_csat_day_starts_at_its_ten_oclock_open(engine):
    # Wed 2025-11-12, Thu 2025-11-13 (CSAT: opens 10:00), Fri 2025-11-14
    add_prices(engine, T, {D(2025, 11, 12): 100, D(2025, 11, 13): 110, D(2025, 11, 14): 99},
               opens={D(2025, 11, 13): 104, D(2025, 11, 14): 108})
    add_posts(engine, [post(T, datetime(2025, 11, 13, 9, 30), "before the late open", post_id=1),
                       post(T, datetime(2025, 11, 13, 10, 0), "at the late open", post_id=2)])
    label_posts(engine, LabelDefinition.build("next_open_close"))
    assert labels(engine, "next_open_close") == {
        "before the late open": (D(2025, 11, 13), D(2025, 11, 12), D(2025, 11, 13), 0.05769, "up"),
        "at the late open": (D(2025, 11, 14), D(2025, 11, 13), D(2025, 11, 14), -0.08333, "down")}


def test_a_session_without_an_open_gets_no_label(engine, board):
    # a bar stored before the bar check (migration 0005 checks new rows only) with an open of 0
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE prices DROP CONSTRAINT prices_bar_is_sane")
        conn.exec_driver_sql("UPDATE prices SET open = 0, low = 0 WHERE trade_date = '2024-02-13'")
    label_posts(engine, LabelDefinition.build("next_open_close"))
    got = labels(engine, "next_open_close")
    assert not {"thu_0900", "thu_1529", "thu_1531", "saturday"} & set(got)
    assert {"thu_0859", "tue_2000", "fri_1600"} <= set(got)  # other sessions are unaffected


def test_next_open_close_is_incremental_and_relabels_changed_prices(engine, board):
    label_posts(engine, LabelDefinition.build("next_open_close"))
    assert label_posts(engine, LabelDefinition.build("next_open_close")).labelled == 0  # idempotent
    add_prices(engine, T, {date(2024, 2, 21): 105}, opens={date(2024, 2, 21): 100})
    assert label_posts(engine, LabelDefinition.build("next_open_close")).labelled == 1
    assert labels(engine, "next_open_close")["tue_2100"][-2:] == (0.05, "up")
    # a re-fetch changes 02-13's open: the posts of that session and the one whose base it is are redone
    add_prices(engine, T, {date(2024, 2, 13): 110}, opens={date(2024, 2, 13): 100})
    report = label_posts(engine, LabelDefinition.build("next_open_close"))
    assert report.labelled == 5 and report.relabelled == 5
    got = labels(engine, "next_open_close")
    assert got["thu_0900"][-2:] == (0.1, "up") and got["tue_2000"][-2:] == (-0.08333, "down")


def test_a_late_session_before_the_posts_session_relabels_it(engine):
    # 02-19's bar arrives after 02-20's: the Friday-evening post first gets 02-20, then its true session
    add_prices(engine, T, {D(2024, 2, 16): 99, D(2024, 2, 20): 101}, opens={D(2024, 2, 20): 100})
    add_posts(engine, [post(T, datetime(2024, 2, 16, 16, 0), "friday evening", post_id=1)])
    label_posts(engine, LabelDefinition.build("next_open_close"))
    assert labels(engine, "next_open_close")["friday evening"][0] == D(2024, 2, 20)
    add_prices(engine, T, {D(2024, 2, 19): 100.5}, opens={D(2024, 2, 19): 99.5})
    report = label_posts(engine, LabelDefinition.build("next_open_close"))
    assert report.relabelled == 1
    assert labels(engine, "next_open_close") == {
        "friday evening": (D(2024, 2, 19), D(2024, 2, 16), D(2024, 2, 19), 0.01005, "up")}


def test_label_without_a_definition_writes_every_standard_one(engine, board, capsys):
    assert main(["label"]) == 0
    out = capsys.readouterr().out
    assert "definition next_open_close: 8 new labels" in out and "definition next_session: 8 new labels" in out
    assert set(query(engine, "SELECT DISTINCT definition FROM labels")) == {("next_open_close",), ("next_session",)}
    assert main(["label", "--rule", "same_day"]) == 0
    assert set(query(engine, "SELECT DISTINCT definition FROM labels")) == {
        ("next_open_close",), ("next_session",), ("same_day",)}
    assert main(["label", "--horizon", "2"]) == 0  # options apply to every standard definition
    assert {"next_open_close_h2", "next_session_h2"} <= {n for (n,) in query(engine, "SELECT name FROM "
                                                                                     "label_definitions")}


def test_the_old_spelling_of_rule_still_labels_and_warns(engine, board, caplog):
    assert main(["label", "--definition", "same_day", "--horizon", "2"]) == 0
    assert "--definition is deprecated: use --rule" in caplog.text
    assert query(engine, "SELECT name, rule, horizon FROM label_definitions") == [("same_day_h2", "same_day", 2)]


def test_label_name_needs_a_definition(engine, board, caplog):
    assert main(["label", "--name", "mine"]) == 2
    assert "--name needs --rule" in caplog.text
    assert query(engine, "SELECT count(*) FROM label_definitions") == [(0,)]
