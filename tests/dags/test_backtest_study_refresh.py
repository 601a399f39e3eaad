"""The weekly finsent_backtest run refreshes the standing study of the champion (issue 29).

A scheduled run differs from a manual one only in its run type, which the DAG reads: it walks the
week's data afresh (``replace``), and its ``study`` task recomputes the standing study ``champion``
from that walk. ``dag.test()`` creates manual runs only, so the scheduled run here is made as the
scheduler makes it (a run of type ``scheduled`` with a logical date); everything else is the real
DAG on real Postgres and MLflow. Kept small for CI's 2 cores: 2 stocks x 30 sessions, two walks.
"""

from __future__ import annotations

from datetime import datetime

import pendulum
import pytest
from mlflow import MlflowClient

from finsent.config import load_settings
from finsent.data.labels import STANDARD_DEFINITIONS, LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.ml.registry import tracking_uri
from tests.data.board import add_posts, post, query
from tests.ml.board import make_board

CONF = {"name": "weekly", "train_sessions": 15, "step_sessions": 5}
NEW_POST = 10**7


def run(dagbag, dag_id, **kwargs):
    from airflow.utils.state import DagRunState

    dag_run = dagbag.get_dag(dag_id).test(**kwargs)
    assert dag_run.state == DagRunState.SUCCESS, f"{dag_id}: {dag_run.state}"
    return dag_run


@pytest.fixture
def scheduled_runs(monkeypatch):
    """Runs that ``dag.test()`` creates from here on are of type ``scheduled`` (with a scheduler's run id)."""
    from airflow.models.dagrun import DagRun
    from airflow.serialization.definitions.dag import SerializedDAG
    from airflow.utils.types import DagRunType

    create = SerializedDAG.create_dagrun

    def create_scheduled(self, **kwargs):
        kwargs["run_type"] = DagRunType.SCHEDULED
        kwargs["run_id"] = DagRun.generate_run_id(run_type=DagRunType.SCHEDULED, logical_date=kwargs["logical_date"],
                                                  run_after=kwargs["run_after"])
        return create(self, **kwargs)

    monkeypatch.setattr(SerializedDAG, "create_dagrun", create_scheduled)


def _champion(engine) -> tuple[str, str, str]:
    """The standing study's backtest, the input hash of the walk it was computed from, its MLflow run."""
    [found] = query(engine, "SELECT backtest, spec->'backtest_spec'->>'input_hash', mlflow_run_id FROM studies "
                            "WHERE name = 'champion'")
    return found


def _walk(engine) -> tuple[str, str]:
    """The weekly walk's input hash and when its row was created (a resume keeps it, a fresh walk does not)."""
    [found] = query(engine, "SELECT spec->>'input_hash', to_json(created_at) #>> '{}' FROM backtests "
                            "WHERE name = 'weekly'")
    return found


def _new_post(engine) -> None:
    """A post that came in after the last walk (the evening of 2024-01-31, labelled for the next session)."""
    add_posts(engine, [post("005930", datetime(2024, 1, 31, 18, 0), "오늘 종목 가즈아 진짜", post_id=NEW_POST)])
    for rule in STANDARD_DEFINITIONS:
        label_posts(engine, LabelDefinition.build(rule))
    check_quality(engine)


def test_a_scheduled_run_walks_the_new_data_and_refreshes_the_champion_study(dagbag, engine, request):
    make_board(engine, planted=True, sessions=30)
    run(dagbag, "finsent_backtest", run_conf=CONF)  # a manual walk: the study as it stood last week
    _, stale_inputs, stale_run = _champion(engine)
    stale_walk = _walk(engine)
    assert stale_walk[0] == stale_inputs
    _new_post(engine)  # the week's data: with the same options a manual run would refuse the changed inputs

    request.getfixturevalue("scheduled_runs")
    dag_run = run(dagbag, "finsent_backtest", run_conf=CONF,
                  logical_date=pendulum.datetime(2026, 12, 6, 6, 0, tz="Asia/Seoul"))
    assert str(dag_run.run_type).lower().endswith("scheduled")
    # the walk was taken afresh, over the new post too ...
    inputs, created = _walk(engine)
    assert inputs != stale_walk[0] and created != stale_walk[1]
    assert query(engine, "SELECT status FROM backtests WHERE name = 'weekly'") == [("done",)]
    assert query(engine, "SELECT count(*) FROM backtest_scores WHERE post_id = :p", p=NEW_POST) == [(1,)]
    # ... and the standing study now describes that walk, in Postgres and in a new MLflow run
    backtest, study_inputs, run_id = _champion(engine)
    assert backtest == "weekly" and study_inputs == inputs and run_id and run_id != stale_run
    assert query(engine, "SELECT count(*) > 0 FROM study_cells WHERE study = 'champion'") == [(True,)]
    assert query(engine, "SELECT count(*) > 0 FROM study_books WHERE study = 'champion'") == [(True,)]
    assert MlflowClient(tracking_uri(load_settings())).get_run(run_id).data.tags["study"] == "champion"
