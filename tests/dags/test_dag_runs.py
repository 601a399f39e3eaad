"""Each DAG end to end with dag.test(): real Postgres, the loopback Naver, a tiny model, sqlite MLflow."""

from __future__ import annotations

import pendulum
import pytest
from mlflow import MlflowClient

from finsent.config import load_settings
from finsent.ml.registry import MODEL_NAME, tracking_uri
from tests.data.board import query


def run(dagbag, dag_id, **kwargs):
    from airflow.utils.state import DagRunState

    dag_run = dagbag.get_dag(dag_id).test(**kwargs)
    assert dag_run.state == DagRunState.SUCCESS, f"{dag_id}: {dag_run.state}"
    return dag_run


@pytest.fixture
def pipeline_env(database_url, monkeypatch):
    """A loopback board with history and a planted signal (as the demo's), so the first baseline
    can show skill: 2 stocks, 150 days (a 15% test part of more than the 10 sessions a verdict needs),
    most titles leaning toward the coming move."""
    from datetime import datetime, timedelta

    from finsent.loopback import FakeNaver

    now = datetime.now().replace(microsecond=0)
    fake = FakeNaver(tickers={"005930": "삼성전자", "000660": "SK하이닉스"}, posts_per_ticker=1350,
                     first_post_at=now - timedelta(days=150), post_spacing=timedelta(days=150) / 1350,
                     price_start=(now - timedelta(days=210)).date(), price_end=now.date())
    fake.plant_signal(0.9)
    with fake:
        for key in ("FINSENT_NAVER_BOARD_URL", "FINSENT_NAVER_PRICE_URL", "FINSENT_NAVER_LEGACY_URL",
                    "FINSENT_NAVER_API_URL", "FINSENT_NAVER_NEWS_URL", "FINSENT_NAVER_COMMENTS_URL"):
            monkeypatch.setenv(key, fake.base_url)
        monkeypatch.setenv("FINSENT_TICKERS", "005930,000660")
        monkeypatch.setenv("FINSENT_BACKFILL_DAYS", "160")
        yield fake


def test_the_four_dags_end_to_end(dagbag, engine, pipeline_env, tiny_model):
    naver = pipeline_env
    # a run without a logical date (manual / asset-triggered): incremental crawl from the watermark
    run(dagbag, "finsent_ingest", logical_date=None)
    assert query(engine, "SELECT count(*) FROM posts")[0][0] > 0
    assert query(engine, "SELECT count(DISTINCT ticker) FROM prices")[0][0] == 2
    # per stock: board, news, prices, and the comments under the board's posts
    assert query(engine, "SELECT count(*) FROM crawl_runs WHERE status = 'ok'")[0][0] == 8
    assert query(engine, "SELECT count(DISTINCT ticker) FROM news")[0][0] == 2

    run(dagbag, "finsent_label")
    for definition in ("next_open_close", "next_session", "same_day"):  # the standard ones and the study's
        assert query(engine, "SELECT count(*) FROM labels WHERE definition = :d", d=definition)[0][0] > 0
    assert query(engine, "SELECT count(*) FROM post_quality")[0][0] == query(engine, "SELECT count(*) FROM posts")[0][0]

    run(dagbag, "finsent_train", run_conf={"model": "baseline", "rules": "none"})
    client = MlflowClient(tracking_uri(load_settings()))
    aliases = client.get_registered_model(MODEL_NAME).aliases
    assert {k: int(v) for k, v in aliases.items()} == {"champion": 1, "challenger": 1}
    assert query(engine, "SELECT count(*) FROM datasets")[0][0] == 1

    # the LoRA path on the gpu queue's task, with a tiny GPT-NeoX as the base model
    run(dagbag, "finsent_train", run_conf={"model": "lora", "base_model": str(tiny_model), "prompt": "zero-shot",
                                           "rules": "none", "max_steps": 5})
    versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    assert len(versions) == 2 and int(client.get_registered_model(MODEL_NAME).aliases["challenger"]) == 2

    scored = run(dagbag, "finsent_score", run_conf={"batch_size": 64})
    states = {ti.task_id: ti.state for ti in scored.get_task_instances()}
    assert states["score_on_cpu"] == "success" and states["score_on_gpu"] == "skipped"  # the champion is the baseline
    assert query(engine, "SELECT count(*) FROM post_scores")[0][0] == query(engine, "SELECT count(*) FROM posts")[0][0]
    assert query(engine, "SELECT count(*) FROM daily_sentiment")[0][0] > 0

    # a backfill-style run for a past date re-walks the board from the day before it
    naver.add_posts("005930", 3)
    before = naver.list_requests("005930")
    run(dagbag, "finsent_ingest", logical_date=pendulum.datetime(2026, 10, 20, 16, 30, tz="Asia/Seoul"))
    assert query(engine, "SELECT count(*) FROM posts")[0][0] == sum(len(p) for p in naver.posts.values())
    assert naver.list_requests("005930") - before >= 2  # walked past the watermark, down to 2026-10-19


def test_the_backtest_dag_walks_and_reports(dagbag, engine):
    from tests.ml.board import make_board

    make_board(engine, planted=True, sessions=40)
    run(dagbag, "finsent_backtest", run_conf={"name": "dag", "train_sessions": 15, "step_sessions": 5})
    assert query(engine, "SELECT status, steps_total FROM backtests WHERE name = 'dag'") == [("done", 5)]
    assert query(engine, "SELECT count(*) FROM backtest_scores s JOIN labels l USING (ticker, post_id) "
                         "WHERE s.trained_through >= l.session_date") == [(0,)]


def test_a_wrong_score_param_fails_the_run_at_its_first_task_with_the_options_message(dagbag, engine, capfd):
    from airflow.utils.state import DagRunState

    # the Param's schema has no pattern: the spec's check is what refuses it, before the registry is asked
    dag_run = dagbag.get_dag("finsent_score").test(run_conf={"alias": "champion; drop"})
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == DagRunState.FAILED and states["find_champion"] == "failed"
    task_log = "".join(capfd.readouterr())  # dag.test() writes the task's log to the console
    assert "bad DAG param: --alias must be an alias (letters, digits, _ and -) or a version number" in task_log
    assert query(engine, "SELECT count(*) FROM post_scores") == [(0,)]
