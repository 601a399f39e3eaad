"""What a walk reads (finsent.ml.backtest.texts): a news story counts once, and the input's hash changes
with anything a resume must not mix in."""

from __future__ import annotations

from datetime import date

import pandas as pd

from finsent.ml.backtest.texts import COLUMNS, input_hash, per_story

DAY = date(2026, 3, 2)
WITH_STORY = [*COLUMNS, "story"]  # news lines carry their story


def _rows(**changes) -> pd.DataFrame:
    frame = pd.DataFrame({"ticker": ["005930"] * 3, "post_id": [1, 2, 3], "label": ["up", "down", "up"],
                          "session_date": [DAY] * 3, "ret": [0.01, 0.01, 0.01], "title": ["a", "b", "c"],
                          "p_up": [0.9, 0.5, 0.2], "story": ["s1", "s1", "s2"]})
    return frame.assign(**changes)


def test_a_story_carried_twice_is_one_vote_and_posts_stay_as_they_are():
    stories = per_story(_rows())
    assert stories[["story", "p_up"]].values.tolist() == [["s1", 0.7], ["s2", 0.2]]
    posts = _rows().drop(columns="story")
    assert per_story(posts) is posts


def test_the_input_hash_changes_with_a_label_a_title_or_a_story():
    base = input_hash([_rows()[WITH_STORY]])
    assert base == input_hash([_rows()[WITH_STORY]])
    for changed in ({"label": ["up", "up", "up"]}, {"title": ["a", "b", "d"]}, {"story": ["s1", "s2", "s2"]}):
        assert input_hash([_rows(**changed)[WITH_STORY]]) != base, changed
    assert input_hash([_rows()[COLUMNS]]) != base  # board lines carry no story
