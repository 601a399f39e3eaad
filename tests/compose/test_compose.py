"""The operator's checks of the docker compose stack, on a real Docker engine (`.ci/run` starts one).

One stack for the module, from a copy of this checkout: `make env`, `make compose-demo` (images
built without a registry where none answers, every service healthy, the demo's DAG runs on the
Celery workers), then what an operator checks on a Monday: the champion in MLflow, the Sentiment
page behind its login, nothing published beyond 127.0.0.1, secrets only from .env, a restart of
every container and a backup/restore of the finsent database without losing a row, and
`make compose-down` leaving no container (and its volumes unless -v). Skipped, saying why, only
where no Docker engine can be had.
"""

from __future__ import annotations

import logging
import re
import subprocess

import pytest

from tests.compose.compose_stack import PROJECT, ComposeStack, engine_reason

log = logging.getLogger(__name__)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]
SERVICES = {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer", "airflow-worker", "airflow-worker-gpu-on-cpu", "mlflow", "naver"}
SECRETS = ("POSTGRES_PASSWORD", "FINSENT_DB_PASSWORD", "AIRFLOW_DB_PASSWORD", "MLFLOW_DB_PASSWORD",
           "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY")


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> ComposeStack:
    reason = engine_reason()
    if reason:
        pytest.skip(reason)
    stack = ComposeStack.copy_of_checkout(tmp_path_factory.mktemp("compose"))
    made = stack.make("env")
    assert made.returncode == 0, made.stdout
    stack.make("compose-down", "ARGS=-v")  # what an interrupted earlier run left
    try:
        demo = stack.make("compose-demo")
        log.info("make compose-demo:\n%s", demo.stdout[-4000:])
        assert demo.returncode == 0, demo.stdout[-6000:]
        stack.demo_output = demo.stdout
        yield stack
    finally:
        stack.make("compose-down", "ARGS=-v")


def test_every_service_is_healthy(stack):
    running = {}
    for c in stack.containers():
        service = c["Config"]["Labels"]["com.docker.compose.service"]
        if service == "airflow-init":
            assert c["State"]["Status"] == "exited" and c["State"]["ExitCode"] == 0, c["State"]
            continue
        assert c["State"]["Status"] == "running", (service, c["State"])
        assert c["State"]["Health"]["Status"] == "healthy", (service, c["State"]["Health"]["Log"][-1:])
        assert c["HostConfig"]["Init"] is True, service  # PID 1 passes SIGTERM on
        running[service] = c
    assert set(running) == SERVICES  # the demo runner is gone (run --rm), the NVIDIA worker never started
    assert running["airflow-worker-gpu-on-cpu"]["Config"]["Hostname"] == "gpu-on-cpu"
    worker_log = subprocess.run(["docker", "logs", running["airflow-worker-gpu-on-cpu"]["Id"]], check=True,
                                capture_output=True, text=True, timeout=60)
    assert "queue gpu on the CPU image" in worker_log.stderr + worker_log.stdout


def test_the_demo_ran_every_dag_on_the_celery_workers(stack):
    lines = stack.demo_output.splitlines()
    finished = [line for line in lines if line.startswith("demo finished: all five DAGs succeeded; champion v")]
    assert finished, stack.demo_output[-3000:]
    tail = "\n".join(lines[lines.index(finished[-1]):])
    assert f"Airflow   http://127.0.0.1:{stack.airflow_port}" in tail
    assert f"Sentiment http://127.0.0.1:{stack.airflow_port}/finsent/sentiment" in tail
    assert f"MLflow    http://127.0.0.1:{stack.mlflow_port}" in tail
    # where each task ran: train and the backtest on the gpu queue's worker, the rest on default
    rows = stack.psql("SELECT dag_id, task_id, queue, hostname FROM task_instance WHERE state = 'success'", "airflow")
    ran = [tuple(row.split("|")) for row in rows.splitlines()]
    dags = {dag for dag, *_ in ran}
    assert {"finsent_ingest", "finsent_label", "finsent_train", "finsent_score", "finsent_backtest"} <= dags
    for dag, task, queue, host in ran:
        expected = "gpu@gpu-on-cpu" if queue == "gpu" else "default@"
        assert host.startswith(expected), (dag, task, queue, host)
    assert any(task == "train" and host == "gpu@gpu-on-cpu" for _, task, _, host in ran)
    assert any(dag == "finsent_backtest" and host == "gpu@gpu-on-cpu" for dag, _, _, host in ran)
    counts = stack.counts()
    assert all(counts[t] > 0 for t in ("posts", "prices", "labels", "post_scores", "backtest_scores")), counts


def test_the_champion_is_in_mlflow_and_named_by_the_demo(stack):
    version = stack.champion()
    assert f"champion v{version} " in stack.demo_output


def test_the_sentiment_page_needs_a_login(stack):
    status, _ = stack.http("/finsent/sentiment")
    assert status == 401
    status, page = stack.http("/finsent/sentiment", token=stack.token())
    assert status == 200, page[:500]
    assert "005930" in page and "champion" in page.lower()


def test_nothing_is_published_beyond_localhost(stack):
    published = []
    for c in stack.containers():
        for bindings in (c["NetworkSettings"]["Ports"] or {}).values():
            published += bindings or []
    assert {b["HostIp"] for b in published} == {"127.0.0.1"}, published
    assert {b["HostPort"] for b in published} == {str(stack.airflow_port), str(stack.mlflow_port)}


def test_secrets_come_only_from_env(stack):
    assert stack.env_mode() == 0o600
    env = stack.dotenv()
    assert all(len(env[key]) >= 24 for key in SECRETS), sorted(env)
    compose_text = "".join((stack.dir / name).read_text() for name in ("docker-compose.yml", "docker-compose.demo.yml"))
    image = subprocess.run(["docker", "image", "inspect", "finsent-airflow:latest"], check=True,
                           capture_output=True, text=True, timeout=60).stdout
    history = subprocess.run(["docker", "history", "--no-trunc", "finsent-airflow:latest"], check=True,
                             capture_output=True, text=True, timeout=60).stdout
    for key in SECRETS:
        assert env[key] not in compose_text and env[key] not in image and env[key] not in history, key
    # the running services got .env's values (a test that cannot pass on defaults)
    apiserver = next(c for c in stack.containers() if c["Config"]["Labels"]["com.docker.compose.service"]
                     == "airflow-apiserver")
    container_env = dict(item.split("=", 1) for item in apiserver["Config"]["Env"])
    assert container_env["AIRFLOW__API_AUTH__JWT_SECRET"] == env["AIRFLOW_JWT_SECRET"]
    assert env["AIRFLOW_DB_PASSWORD"] in container_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "POSTGRES_PASSWORD" not in container_env  # each service gets the secrets it needs, no more


def test_restarting_every_container_keeps_the_data(stack):
    before, champion = stack.counts(), stack.champion()
    ids = [c["Id"] for c in stack.containers() if c["State"]["Status"] == "running"]
    subprocess.run(["docker", "restart", *ids], check=True, capture_output=True, timeout=600)
    stack.wait_healthy()
    assert stack.counts() == before
    assert stack.champion() == champion
    status, _ = stack.http("/finsent/sentiment", token=stack.token())
    assert status == 200


def test_backup_and_restore_drill_as_the_docs_document_it(stack, tmp_path):
    """docs/operations.md, Backup and restore (compose): pg_dump, drop, restore, the same counts."""
    docs = (stack.dir / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "pg_dump -U postgres -Fc -d finsent" in docs and "pg_restore -U postgres -d finsent" in docs
    before = stack.counts()
    dump = tmp_path / "finsent.dump"
    with dump.open("wb") as out:
        subprocess.run([*stack.compose_cmd, "exec", "-T", "postgres", "pg_dump", "-U", "postgres", "-Fc", "-d",
                        "finsent"], cwd=stack.dir, env=stack.env, check=True, stdout=out, timeout=600)  # as the docs
    assert dump.stat().st_size > 10_000
    users = [s for s in stack.compose("config", "--services").split() if s.startswith("airflow-") or s == "demo"]
    stack.compose("stop", *[s for s in users if s not in ("airflow-init", "demo", "airflow-worker-gpu")])
    stack.compose("exec", "-T", "postgres", "dropdb", "-U", "postgres", "finsent")
    stack.compose("exec", "-T", "postgres", "createdb", "-U", "postgres", "-O", "finsent", "finsent")
    with dump.open("rb") as handle:
        stack.compose("exec", "-T", "postgres", "pg_restore", "-U", "postgres", "-d", "finsent", stdin=handle)
    assert stack.counts() == before
    up = subprocess.run(["docker/compose.sh", "start"], cwd=stack.dir, env={**stack.env, "DEMO": "1"}, check=False,
                        capture_output=True, text=True, timeout=1200)
    assert up.returncode == 0, up.stderr[-3000:]
    status, _ = stack.http("/finsent/sentiment", token=stack.token())
    assert status == 200


def test_compose_down_leaves_no_container_and_keeps_the_volumes(stack):
    down = stack.make("compose-down")
    assert down.returncode == 0, down.stdout[-3000:]
    assert stack.containers() == []
    volumes = stack.volumes()
    assert any(re.search(r"postgres-data$", v) for v in volumes), volumes
    assert all(v.startswith(f"{PROJECT}_") for v in volumes)
    down = stack.make("compose-down", "ARGS=-v")
    assert down.returncode == 0, down.stdout[-3000:]
    assert stack.volumes() == []
