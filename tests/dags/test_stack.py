"""`finsent stack` for real: airflow (standalone, or the CeleryExecutor with two workers on the local
Redis), an MLflow server, the embedded Postgres, the loopback Naver with a planted signal. The demo
runs twice (the second reuses what runs and finishes), the Sentiment page answers only a logged-in
user, then `stack down` leaves no port answering and no process behind."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa

from tests.dags.conftest import ROOT

CLI = [sys.executable, "-m", "finsent.cli", "stack"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stack_env(data: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FINSENT_", "MLFLOW"))}
    env.update({"FINSENT_DATA_DIR": str(data), "FINSENT_ENV_FILE": str(tmp_path / "none"),
                "FINSENT_MLFLOW_PORT": str(_free_port()), "FINSENT_AIRFLOW_PORT": str(_free_port()),
                # Airflow's log servers on free ports too: settings, so two stacks can share a host
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port())})
    return env


def _stack(env: dict[str, str], *args: str, timeout: float = 1500) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=env, cwd=ROOT, check=False, capture_output=True, text=True,
                          timeout=timeout)


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _login(base: str, data: Path) -> str:
    password = json.loads((data / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    request = urllib.request.Request(f"{base}/auth/token", data=json.dumps({"username": "admin", "password": password})
                                     .encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


def _pids(data: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in (data / "run").glob("*.pid")}


def _stack_processes(data: Path) -> list[str]:
    """Processes that belong to this stack: started with its FINSENT_DATA_DIR or holding its files."""
    left = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.pid == os.getpid():
                continue
            if process.environ().get("FINSENT_DATA_DIR") == str(data) or str(data) in " ".join(process.cmdline()):
                left.append(f"{process.pid}: {' '.join(process.cmdline())[:200]}")
        except psutil.Error:
            continue
    return left


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _assert_all_down(env: dict[str, str], data: Path, naver_port: int | None) -> None:
    ports = [int(env[k]) for k in ("FINSENT_MLFLOW_PORT", "FINSENT_AIRFLOW_PORT",
                                   "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
                                   "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT")]
    ports += [naver_port] if naver_port else []
    assert [p for p in ports if _answers(p)] == []
    assert _stack_processes(data) == []
    assert not list((data / "run").glob("*.pid"))
    assert not (data / "postgres" / "postmaster.pid").exists()


def _assert_loopback_only(data: Path, env: dict[str, str]) -> None:
    """Every port the stack's processes listen on is on 127.0.0.1, the log servers' included."""
    pids = set()
    for pid in _pids(data).values():
        try:
            pids |= {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
        except psutil.Error:
            continue
    listening = {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.pid in pids}
    assert listening and {ip for ip, _ in listening} == {"127.0.0.1"}, listening
    ports = {port for _, port in listening}
    assert {int(env[f"AIRFLOW__LOGGING__{k}_LOG_SERVER_PORT"]) for k in ("WORKER", "TRIGGER")} <= ports, listening


def _assert_private(data: Path) -> None:
    """Every file finsent, MLflow and Airflow wrote under the data folder is 0600 in a 0700 folder."""
    loose = []
    for path in data.rglob("*"):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            continue  # sockets
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077 and not path.is_relative_to(data / "postgres"):  # the server's own (initdb's modes)
            loose.append(f"{oct(mode)} {path.relative_to(data)}")
    assert loose == [], loose[:20]


def _cli_works_without_exports(env: dict[str, str], data: Path) -> None:
    """After the demo, `finsent evaluate` on its data folder reaches the stack's MLflow by itself."""
    plain = {k: v for k, v in env.items() if not k.startswith(("MLFLOW", "AIRFLOW"))}
    engine = sa.create_engine(json.loads((data / "run" / "stack.env").read_text())["FINSENT_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            dataset = conn.execute(sa.text("SELECT name FROM datasets ORDER BY created_at DESC LIMIT 1")).scalar()
    finally:
        engine.dispose()
    done = subprocess.run([sys.executable, "-m", "finsent.cli", "evaluate", "--dataset", dataset], env=plain,
                          cwd=ROOT, check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "accuracy" in done.stdout


def _naver_port(data: Path) -> int | None:
    url_file = data / "run" / "naver.url"
    return int(url_file.read_text().rsplit(":", 1)[1]) if url_file.is_file() else None


def _screenshots(data: Path, tmp_path: Path) -> None:
    """Every view of the demo in Chromium, logged in (docs/screenshots.py: each answers, no label over a
    chart, the overviews fit two laptop screens); saved where FINSENT_SCREENSHOT_DIR says (docs/ to
    refresh the docs' screenshots)."""
    if shutil.which("chromium") is None:
        return
    out = Path(os.environ.get("FINSENT_SCREENSHOT_DIR", tmp_path))
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "screenshots.py"), "--data-dir", str(data),
                           "--out", str(out)], cwd=ROOT, check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert all((out / name).stat().st_size > 10_000 for name in ("sentiment-demo.png", "sentiment-news.png",
                                                                 "sentiment-news-stock.png", "airflow-dags.png"))


def _every_view(base: str, token: str) -> None:
    """The demo shows every view: the board's and the news' (a news champion, headlines), named and
    marked synthetic."""
    status, page = _get(f"{base}/finsent/sentiment", token)
    assert status == 200 and "champion: <b>finsent-updown v1</b>" in page and "<svg" in page
    assert all(code in page for code in ("005930", "000660", "005380"))
    assert '<p class="banner"><b>Synthetic data</b>' in page
    # each row names what its index comes from: the walk, or the champion on the sessions after it
    assert re.search(r"<td class=muted>(backtest demo|finsent-updown v1)</td>", page), page[:3000]
    status, news = _get(f"{base}/finsent/sentiment?source=news&ticker=005930", token)
    assert status == 200 and "champion: <b>finsent-news-updown v1</b>" in news
    # the last day's headlines are shown, on the side of 0.5 the news champion puts them (which side
    # depends on the day the demo runs: its world follows the clock)
    assert "most bullish" in news and re.search(r'<li><span class=p>[01]\.\d\d</span> <a href="http', news)
    status, api = _get(f"{base}/finsent/api/daily-sentiment?source=news&ticker=005930", token)
    assert status == 200 and json.loads(api)["count"] > 0 and json.loads(api)["synthetic"]


@pytest.mark.slow
@pytest.mark.timeout(3000)
def test_demo_twice_then_down_leaves_nothing(tmp_path: Path):
    data = tmp_path / "demo"
    env = _stack_env(data, tmp_path)
    base = f"http://127.0.0.1:{env['FINSENT_AIRFLOW_PORT']}"
    naver_port = None
    try:
        first = _stack(env, "demo")
        assert first.returncode == 0, (first.stdout[-3000:], first.stderr[-5000:])
        assert "all five DAGs succeeded" in first.stdout and "login admin /" in first.stdout
        assert "; news champion v1 (" in first.stdout
        naver_port, started = _naver_port(data), _pids(data)

        second = _stack(env, "demo")  # with the first stack still up: reuses it and finishes
        assert second.returncode == 0, (second.stdout[-3000:], second.stderr[-5000:])
        assert "all five DAGs succeeded" in second.stdout
        assert "already running" in second.stderr and "not retraining" in second.stderr
        assert _pids(data) == started and _naver_port(data) == naver_port  # nothing restarted

        status, page = _get(f"{base}/finsent/sentiment")
        assert status == 401 and "Sentiment" not in page
        token = _login(base, data)
        _every_view(base, token)
        _screenshots(data, tmp_path)

        # the champion's numbers are real: a test part of many sessions, accuracy clearly above 1/2
        from mlflow import MlflowClient

        server = f"http://127.0.0.1:{env['FINSENT_MLFLOW_PORT']}"
        client = MlflowClient(tracking_uri=server, registry_uri=server)  # not an earlier test's global URI
        version = client.get_model_version_by_alias("finsent-updown", "champion")
        metrics = client.get_run(version.run_id).data.metrics
        assert metrics["test_accuracy_ci_low"] > 0.55, metrics
        engine = sa.create_engine(json.loads((data / "run" / "stack.env").read_text())["FINSENT_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                test_sessions = conn.execute(sa.text(
                    "SELECT count(DISTINCT (ticker, session_date)) FROM dataset_rows WHERE split = 'test'")).scalar()
        finally:
            engine.dispose()
        assert test_sessions >= 30, test_sessions
        _assert_loopback_only(data, env)
        _cli_works_without_exports(env, data)
        assert stat.S_IMODE((data / "run" / "stack.env").stat().st_mode) == 0o600
        _assert_private(data)
    finally:
        down = _stack(env, "down", timeout=300)
    assert down.returncode == 0, down.stderr[-3000:]
    assert not (data / "run" / "cli.env").exists()
    assert all(" INFO " in line or " WARNING " in line for line in down.stderr.strip().splitlines()), down.stderr
    _assert_all_down(env, data, naver_port)


@pytest.mark.slow
@pytest.mark.timeout(3000)
@pytest.mark.skipif(importlib.util.find_spec("airflow.providers.celery") is None,
                    reason="apache-airflow-providers-celery is not installed (pip install -e '.[airflow]')")
def test_demo_on_the_celery_executor_trains_on_the_gpu_worker(tmp_path: Path):
    if not _answers(6379):
        pytest.skip("no Redis on 127.0.0.1:6379 (.ci/run starts one when redis-server is installed)")
    data = tmp_path / "celery"
    env = _stack_env(data, tmp_path)
    env["AIRFLOW__CELERY__BROKER_URL"] = "redis://127.0.0.1:6379/13"  # apart from a `make up-celery` on db 0
    naver_port = None
    try:
        done = _stack(env, "demo", "--executor", "celery")
        naver_port = _naver_port(data)
        assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-5000:])
        assert "finsent is up (celery executor)" in done.stdout and "all five DAGs succeeded" in done.stdout
        assert {"airflow-worker", "airflow-worker-gpu", "airflow-scheduler"} <= set(_pids(data))
        airflow_db = json.loads((data / "run" / "stack.env").read_text())["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        engine = sa.create_engine(airflow_db)
        try:
            with engine.connect() as conn:
                ran = conn.execute(sa.text(
                    "SELECT dag_id, task_id, hostname, queue FROM task_instance WHERE state = 'success' "
                    "AND dag_id LIKE 'finsent_%'")).all()
        finally:
            engine.dispose()
        hosts = {(r.dag_id, r.task_id): r.hostname for r in ran}
        assert hosts[("finsent_train", "train")].startswith("gpu@"), hosts
        assert hosts[("finsent_backtest", "backtest")].startswith("gpu@"), hosts  # the demo's backtest
        # every task ran on the worker of its own queue: gpu tasks on gpu@, the rest on default@
        wrong = {(r.dag_id, r.task_id): (r.queue, r.hostname) for r in ran
                 if not r.hostname.startswith("gpu@" if r.queue == "gpu" else "default@")}
        assert not wrong, wrong
        assert {"finsent_ingest", "finsent_label", "finsent_score"} <= {r.dag_id for r in ran if r.queue != "gpu"}
        _assert_loopback_only(data, env)
    finally:
        down = _stack(env, "down", timeout=300)
    assert down.returncode == 0, down.stderr[-3000:]
    _assert_all_down(env, data, naver_port)
