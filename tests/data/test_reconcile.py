"""`finsent reconcile` after hand edits (issue 32 #12): deleted posts leave no labels, flags, scores or
index votes behind, an edited title is scored (and flagged) as it reads now, an edited time is
labelled by its new session; afterwards labels, scores and the index equal a run from scratch. The
watermark reset the README documented did not do it; --dry-run says what it would do and changes
nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from finsent.cli import main
from finsent.config import load_settings
from finsent.data.labels import STANDARD_DEFINITIONS, LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.ml.registry import load_pyfunc, predict
from finsent.ml.score import score_posts
from finsent.ml.train import train_model
from tests.data.board import query
from tests.ml.test_incremental_daily import equals_a_run_from_scratch

DEPENDANTS = ("labels", "post_quality", "post_flags", "post_scores")
NEW_TITLE = "손절 하락 물린다 고쳐 쓴 제목"


def orphans(engine) -> dict[str, int]:
    return {table: query(engine, f"SELECT count(*) FROM {table} d WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE "
                                 "p.ticker = d.ticker AND p.post_id = d.post_id)")[0][0] for table in DEPENDANTS}


def everything(engine) -> dict[str, list]:
    return {t: sorted(query(engine, f"SELECT * FROM {t}"), key=repr)
            for t in (*DEPENDANTS, "daily_sentiment", "text_edits")}


@pytest.fixture
def edited(engine, planted):
    """A scored board (the champion's index built), then edited by hand: 25 posts deleted, 3 titles
    rewritten, 2 posts moved a week later."""
    settings = load_settings()
    version = train_model(settings, engine, planted, "baseline").version
    score_posts(settings, engine)
    ids = [p for (p,) in query(engine, "SELECT post_id FROM posts WHERE ticker = '005930' ORDER BY post_id")]
    deleted, retitled, moved = ids[100:125], ids[200:203], ids[300:302]
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM posts WHERE ticker = '005930' AND post_id = ANY(%s)", (deleted,))
        conn.exec_driver_sql("UPDATE posts SET title = %s WHERE ticker = '005930' AND post_id = ANY(%s)",
                             (NEW_TITLE, retitled))
        conn.exec_driver_sql("UPDATE posts SET posted_at = posted_at + interval '7 days' WHERE ticker = '005930' "
                             "AND post_id = ANY(%s)", (moved,))
    return version, deleted, retitled, moved


def test_the_documented_watermark_reset_did_not_reconcile(engine, edited):
    """What the README said to do before (drop the step watermarks, run the steps): the deleted posts'
    rows stay. Kept as the reason reconcile exists."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM step_watermarks")
    for rule in STANDARD_DEFINITIONS:
        label_posts(engine, LabelDefinition.build(rule))
    check_quality(engine)
    score_posts(load_settings(), engine)
    left = orphans(engine)
    assert left["labels"] and left["post_quality"] and left["post_scores"]


def test_reconcile_makes_everything_agree_with_the_posts_as_they_are(engine, edited, capsys):
    version, deleted, retitled, moved = edited
    before = everything(engine)
    assert main(["reconcile", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would drop, of texts that are gone: labels {2 * len(deleted)}, post_quality {len(deleted)}" in out
    assert f"post_scores {len(deleted)}" in out and f"would redo, of texts edited by hand: posts {len(retitled)}" in out
    assert f"would relabel, whose session moved: labels {2 * len(moved)}" in out and f"board v{version}" in out
    assert everything(engine) == before  # a dry run changes nothing

    assert main(["reconcile"]) == 0
    out = capsys.readouterr().out
    assert "done: " in out and "scored again: board 3" in out
    assert orphans(engine) == dict.fromkeys(DEPENDANTS, 0)
    model = load_pyfunc("champion")
    ((p_up,),) = query(engine, "SELECT DISTINCT p_up FROM post_scores WHERE model_version = :v AND ticker = '005930' "
                               "AND post_id = ANY(:ids)", v=version, ids=retitled)
    assert p_up == pytest.approx(predict(model, [NEW_TITLE])[0], abs=1e-6)  # the title as it reads now
    sessions = query(engine, "SELECT l.session_date, p.posted_at FROM labels l JOIN posts p USING (ticker, post_id) "
                             "WHERE l.definition = 'next_open_close' AND l.ticker = '005930' AND l.post_id = ANY(:ids)",
                     ids=moved)
    assert all(day > (at - timedelta(days=7)).date() for day, at in sessions)  # labelled by the new time
    assert query(engine, "SELECT count(*) FROM text_edits") == [(0,)]
    flags = sorted(query(engine, "SELECT ticker, post_id, rule FROM post_flags"))
    check_quality(engine, recheck=True)  # the flags are those of a check from scratch
    assert sorted(query(engine, "SELECT ticker, post_id, rule FROM post_flags")) == flags
    equals_a_run_from_scratch(engine, version)  # labels, scores and the index: as if computed anew
    assert main(["reconcile"]) == 0  # nothing left to do
    assert "drop, of texts that are gone: nothing" in capsys.readouterr().out


def test_reconcile_has_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["reconcile", "--help"])
    assert done.value.code == 0 and "--dry-run" in capsys.readouterr().out
