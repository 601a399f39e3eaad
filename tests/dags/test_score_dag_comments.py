"""finsent_score scores comments with their own champion (finsent-comments-updown, issue 30): while
only the board has a champion its comments tasks are skipped and no comment is scored; once comments
have one, every comment gets a score of it and the comments index counts the unflagged ones."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from finsent.config import load_settings
from finsent.data.build import build_dataset
from finsent.data.sources import COMMENTS
from finsent.ml.registry import load_pyfunc, predict
from finsent.ml.train import train_model
from tests.dags.test_dag_runs import run
from tests.data.board import query
from tests.ml.board import VERDICT_SPEC, make_board
from tests.ml.comments import make_comments

TASKS = ("score_on_cpu", "score_on_gpu", "score_news_on_cpu", "score_news_on_gpu", "score_comments_on_cpu",
         "score_comments_on_gpu")
SKIPPED = dict.fromkeys(TASKS, "skipped")
# the comments index from first principles: a vote per unflagged comment, on the session its label names
EXPECTED_INDEX = """
SELECT l.ticker, l.session_date, count(*)::int, avg(s.p_up)::float8, avg((s.p_up > 0.5)::int)::float8
FROM comment_labels l JOIN comment_scores s USING (ticker, post_id, comment_no)
WHERE l.definition = 'next_open_close' AND s.model_version = 1 AND NOT EXISTS (SELECT 1 FROM comment_flags f
      WHERE (f.ticker, f.post_id, f.comment_no) = (l.ticker, l.post_id, l.comment_no))
GROUP BY 1, 2 ORDER BY 1, 2"""
INDEX = ("SELECT ticker, session_date, n_posts, mean_p_up, bull_share FROM daily_sentiment "
         "WHERE source = 'comments' AND model_version = 1 ORDER BY 1, 2")


def states(dag_run) -> dict[str, str]:
    found = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    return {task: found[task] for task in TASKS}


def test_the_score_dag_scores_comments_once_they_have_a_champion(dagbag, engine):
    settings = load_settings()
    make_board(engine, planted=True, sessions=60, per_session=4)  # the board's champion: the run has work
    make_comments(engine, per_session=4)
    build_dataset(engine, "planted", VERDICT_SPEC, settings.data_dir)
    assert train_model(settings, engine, "planted", "baseline").decision.promoted
    board_only = run(dagbag, "finsent_score")
    assert states(board_only) == {**SKIPPED, "score_on_cpu": "success"}
    assert query(engine, "SELECT count(*) FROM comment_scores") == [(0,)]
    assert query(engine, "SELECT DISTINCT source FROM daily_sentiment") == [("board",)]
    assert query(engine, "SELECT step FROM step_watermarks WHERE step LIKE 'score%'") == [("score",)]

    build_dataset(engine, "cset", replace(VERDICT_SPEC, source="comments"), settings.data_dir)
    outcome = train_model(settings, engine, "cset", "baseline")
    assert (outcome.version, outcome.decision.promoted) == (1, True)  # the comments' champion: v1
    both = run(dagbag, "finsent_score")
    assert states(both) == {**SKIPPED, "score_on_cpu": "success", "score_comments_on_cpu": "success"}
    # one score of v1 per comment, flagged ones too (the index leaves them out), each the model's own
    scored = query(engine, "SELECT c.ticker, c.post_id, c.comment_no, c.text, s.p_up FROM comments c LEFT JOIN "
                           "comment_scores s ON (s.ticker, s.post_id, s.comment_no) = (c.ticker, c.post_id, "
                           "c.comment_no) AND s.model_version = 1 ORDER BY 1, 2, 3")
    assert len(scored) == 2 * (59 * 4 + 5)  # 2 stocks, 59 sessions of 4 comments, 5 of junk on the first
    assert query(engine, "SELECT count(*), count(DISTINCT model_version) FROM comment_scores") == [(len(scored), 1)]
    np.testing.assert_allclose([p for *_, p in scored], predict(load_pyfunc(1, COMMENTS.model_name),
                                                                [text for *_, text, _ in scored]), atol=1e-5)
    assert query(engine, "SELECT count(*) FROM comment_flags")[0][0] == 4 * 2  # the junk is in the world
    index, expected = query(engine, INDEX), query(engine, EXPECTED_INDEX)
    assert [row[:3] for row in index] == [row[:3] for row in expected] and len(index) == 2 * 59
    assert sum(row[2] for row in index) == len(scored) - 2 * 4  # every comment but the flagged junk votes
    np.testing.assert_allclose([row[3:] for row in index], [row[3:] for row in expected], atol=1e-9)
    assert query(engine, "SELECT source, model_version, count(*) FROM daily_sentiment GROUP BY 1, 2 ORDER BY 1") == [
        ("board", 1, 2 * 59), ("comments", 1, 2 * 59)]
