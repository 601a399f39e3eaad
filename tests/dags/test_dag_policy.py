"""DAG policy: every DAG imports cleanly, is documented, owned, tagged, retried; crawls use the pool."""

from __future__ import annotations

import subprocess
import sys

import pytest

from finsent.config import naver_pool_slots
from tests.dags.conftest import ROOT

DAG_IDS = {"finsent_ingest", "finsent_label", "finsent_train", "finsent_score", "finsent_backtest"}


def test_every_dag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS


def _callbacks(value) -> list:
    return value if isinstance(value, list) else [value] if value else []


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_dag_policy(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert dag.doc_md and all(word in dag.doc_md for word in ("**What**", "**Owner**", "**Triage**"))
    assert "finsent" in dag.tags and len(dag.tags) >= 2
    timezone = getattr(dag.timetable, "timezone", None) or dag.timezone  # cron timetables carry their own
    assert "Asia/Seoul" in str(timezone), (dag_id, timezone)
    from finsent.orchestration.airflow_support import FAILURE_ALERT

    assert FAILURE_ALERT in _callbacks(dag.on_failure_callback), dag_id  # a failed run alerts (test_alerts.py)
    for task in dag.tasks:
        assert task.owner == "finsent", task.task_id
        assert task.retries >= 1 and task.execution_timeout is not None, task.task_id
        assert FAILURE_ALERT in _callbacks(task.on_failure_callback), task.task_id  # so does a failed task
    if dag_id == "finsent_ingest":
        assert dag.get_task("crawl").pool == "naver" and dag.get_task("prices").pool == "naver"
        assert dag.get_task("crawl_news").pool == "naver"  # news beside the board, one mapped task per ticker
        assert {t.task_id for t in dag.get_task("prices").upstream_list} >= {"crawl_comments", "crawl_news"}
        assert "crawl" in {t.task_id for t in dag.get_task("crawl_comments").upstream_list}
        assert dag.get_task("crawl_comments").pool == "naver"
        # the mapped crawls take at most the pool's configured slots (FINSENT_NAVER_POOL_SLOTS) at once
        assert dag.get_task("crawl").max_active_tis_per_dagrun == naver_pool_slots()
        assert dag.get_task("crawl_news").max_active_tis_per_dagrun == naver_pool_slots()
    if dag_id == "finsent_backtest":
        assert dag.get_task("backtest").queue == "gpu"
        assert "0 6 * * 0" in repr(dag.timetable) or "0 6 * * 0" in str(vars(dag.timetable))  # weekly
        assert [t.task_id for t in dag.get_task("study").upstream_list] == ["backtest"]
    if dag_id == "finsent_train":
        assert dag.get_task("train").queue == "gpu"
        assert [link.name for link in dag.get_task("train").operator_extra_links] == ["MLflow run"]
    if dag_id == "finsent_score":  # a LoRA champion scores where the GPU and the base model are
        assert dag.get_task("score_on_gpu").queue == "gpu" and dag.get_task("score_on_cpu").queue != "gpu"


def test_dag_files_import_nothing_heavy_at_parse_time():
    # (sqlalchemy is left out: airflow.sdk itself imports it)
    heavy = ("torch", "transformers", "peft", "mlflow", "sklearn", "pandas", "scipy", "requests", "psycopg2",
             "finsent.db", "finsent.ingest.crawl", "finsent.ml.train")
    code = ("import sys, runpy, glob; [runpy.run_path(f) for f in sorted(glob.glob(sys.argv[1] + '/*.py'))]; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT / "dags")], check=False, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
