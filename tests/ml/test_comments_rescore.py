"""A re-crawl of comments (the crawl's one write path, ``upsert_comments``) and their scores: a comment
whose likes changed keeps its score and its index vote as they were; one whose text changed is
scored again, from its new text, by the next ``score_comments`` run."""

from __future__ import annotations

from dataclasses import replace

import pytest

from finsent.config import load_settings
from finsent.data.build import build_dataset
from finsent.data.sources import COMMENTS
from finsent.db import raw_transaction
from finsent.ingest.records import CommentRow
from finsent.ingest.store import upsert_comments
from finsent.ml.comments_score import score_comments
from finsent.ml.registry import load_pyfunc, predict
from finsent.ml.spec import ScoreSpec
from finsent.ml.train import train_model
from tests.data.board import query
from tests.ml.board import VERDICT_SPEC, make_board
from tests.ml.comments import make_comments

SPEC = ScoreSpec(source="comments", comments_alias="1")  # v1 by number: no champion needed
SCORES = "SELECT model_version, ticker, post_id, comment_no, p_up, scored_at FROM comment_scores ORDER BY 1, 2, 3, 4"
INDEX = "SELECT * FROM daily_sentiment ORDER BY source, model_version, ticker, session_date"
# the comments index as stored, and as a rebuild from the scores would have it
INDEX_NOW = ("SELECT model_version, ticker, session_date, n_posts, round(mean_p_up::numeric, 6), "
             "round(bull_share::numeric, 6) FROM daily_sentiment WHERE source = 'comments' ORDER BY 1, 2, 3")
INDEX_REBUILT = """
SELECT s.model_version, l.ticker, l.session_date, count(*)::int, round(avg(s.p_up)::numeric, 6),
       round(avg((s.p_up > 0.5)::int)::numeric, 6)
FROM comment_labels l JOIN comment_scores s USING (ticker, post_id, comment_no)
WHERE l.definition = 'next_open_close' AND NOT EXISTS (SELECT 1 FROM comment_flags f
      WHERE (f.ticker, f.post_id, f.comment_no) = (l.ticker, l.post_id, l.comment_no))
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
BEARISH = "완전 폭락 손절 하락 악재"
_STORED = ("SELECT ticker, post_id, comment_no, parent_comment_no, reply_level, written_at, modified_at, text, "
           "author, likes, dislikes, replies, deleted, source FROM comments WHERE (ticker, post_id, comment_no) = "
           "(%s, %s, %s)")


def recrawl(engine, key: tuple, **changes) -> tuple[int, int]:
    """The comment ``key`` fetched again as stored but for ``changes``, written as the crawl writes it."""
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        cur.execute(_STORED, key)
        row = CommentRow(*cur.fetchone())
        return upsert_comments(cur, [replace(row, **changes)])


def score_of(engine, key: tuple) -> list[tuple]:
    return query(engine, "SELECT model_version, p_up, scored_at FROM comment_scores WHERE (ticker, post_id, "
                         "comment_no) = (:t, :p, :n) ORDER BY 1", t=key[0], p=key[1], n=key[2])


@pytest.fixture
def scored(engine):
    """A tiny comments world, a baseline (v1) trained on it, every comment scored by it."""
    settings = load_settings()
    make_board(engine, planted=False, sessions=20, per_session=0, tickers=("005930",))
    make_comments(engine, per_session=4)
    build_dataset(engine, "cset", replace(VERDICT_SPEC, source="comments"), settings.data_dir)
    assert train_model(settings, engine, "cset", "baseline").version == 1
    assert score_comments(settings, engine, SPEC).scored == query(engine, "SELECT count(*) FROM comments")[0][0]
    return settings


def test_a_recrawl_that_changes_only_likes_leaves_the_score_and_the_index_alone(engine, scored):
    scores, index = query(engine, SCORES), query(engine, INDEX)
    key = query(engine, "SELECT ticker, post_id, comment_no FROM comments ORDER BY 1, 2, 3 LIMIT 1 OFFSET 7")[0]
    stamp = "SELECT likes, dislikes, changed_seq FROM comments WHERE (ticker, post_id, comment_no) = (:t, :p, :n)"
    (_, _, before), = query(engine, stamp, t=key[0], p=key[1], n=key[2])
    assert recrawl(engine, key, likes=41, dislikes=3) == (0, 1)  # stored again: updated, not added
    assert recrawl(engine, key, likes=41, dislikes=3) == (0, 0)  # the same again: nothing changed
    (likes, dislikes, after), = query(engine, stamp, t=key[0], p=key[1], n=key[2])
    assert (likes, dislikes) == (41, 3) and after > before  # restamped: the next score run reads it
    assert query(engine, "SELECT count(*) FROM text_edits") == [(0,)]  # not an edit of what the model reads
    assert score_comments(scored, engine, SPEC).scored == 0
    assert query(engine, SCORES) == scores and query(engine, INDEX) == index  # same p_up, scored_at, rows


def test_a_recrawl_that_changes_a_comments_text_has_it_scored_again_by_every_version(engine, scored):
    assert train_model(scored, engine, "cset", "baseline").version == 2  # a second version, scored too
    v2 = replace(SPEC, comments_alias="2")
    score_comments(scored, engine, v2)
    key = query(engine, "SELECT ticker, post_id, comment_no FROM comment_scores s WHERE p_up > 0.5 AND NOT EXISTS "
                        "(SELECT 1 FROM comment_flags f WHERE (f.ticker, f.post_id, f.comment_no) = "
                        "(s.ticker, s.post_id, s.comment_no)) ORDER BY 1, 2, 3 LIMIT 1")[0]
    old = score_of(engine, key)
    others = [row for row in query(engine, SCORES) if tuple(row[1:4]) != key]
    assert recrawl(engine, key, text=BEARISH) == (0, 1)
    assert score_of(engine, key) == [] and query(engine, SCORES) == [*others]  # every version's, its alone
    for spec, (version, old_p, old_at) in zip((SPEC, v2), old, strict=True):
        assert score_comments(scored, engine, spec).scored == 1  # the next run of each version: this one
        (_, p_up, scored_at), = [row for row in score_of(engine, key) if row[0] == version]
        new_p = predict(load_pyfunc(version, COMMENTS.model_name), [BEARISH])[0]
        assert p_up == pytest.approx(new_p, abs=1e-5) and old_p - new_p > 0.05 and scored_at > old_at
    assert [row for row in query(engine, SCORES) if tuple(row[1:4]) != key] == others  # no other comment touched
    assert query(engine, INDEX_NOW) == query(engine, INDEX_REBUILT)  # its session counts its new score
    # the edit is still logged for `finsent reconcile` (the trigger of sql/0052), as a hand edit would be
    assert query(engine, "SELECT source, ticker, post_id, comment_no, title_changed, time_changed FROM text_edits") == [
        ("comments", *key, True, False)]
