"""``finsent stack up|down|demo``: the whole pipeline on one machine, without Docker.

up: the embedded Postgres (finsent's database and Airflow's), ``finsent db upgrade``, an MLflow
server on 127.0.0.1:5000 (sqlite store and artifacts under ``FINSENT_DATA_DIR/mlflow``), and
``airflow standalone`` on 127.0.0.1:8080 with ``AIRFLOW_HOME=FINSENT_DATA_DIR/airflow``, this
repository's dags/ and plugins/, examples off, the ``naver`` pool created, DAGs unpaused. Prints the
URLs and the admin password. down: stops what up started. demo: up against the loopback Naver and
a tiny GPT-NeoX, then runs ingest -> label -> train -> score and waits for each to succeed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from finsent.config import Settings
from finsent.errors import FinsentError
from finsent.names import private_dir

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]  # the repository: dags/, plugins/
# Overridable so a second stack (tests, a demo beside a running `make up`) does not collide.
MLFLOW_PORT = int(os.environ.get("FINSENT_MLFLOW_PORT", "5000"))
AIRFLOW_PORT = int(os.environ.get("FINSENT_AIRFLOW_PORT", "8080"))
DEMO_TICKERS = "005930,000660"


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _wait_http(url: str, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                if response.status < 500:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise FinsentError(f"{what} did not answer at {url} within {seconds:.0f}s; see the logs in {what!r}'s log file")


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.run_dir = settings.data_dir / "run"
        self.log_dir = settings.data_dir / "logs"
        self.airflow_home = settings.data_dir / "airflow"

    # -- processes --------------------------------------------------------------------------------

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        pid_file = self.run_dir / f"{name}.pid"
        if pid_file.exists() and _alive(int(pid_file.read_text())):
            log.info("%s already running (pid %s)", name, pid_file.read_text())
            return int(pid_file.read_text())
        with (self.log_dir / f"{name}.log").open("ab") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                       start_new_session=True)  # its own group: down stops its children too
        pid_file.write_text(str(process.pid))
        log.info("started %s (pid %d), log %s", name, process.pid, self.log_dir / f"{name}.log")
        return process.pid

    def _stop(self, name: str) -> None:
        pid_file = self.run_dir / f"{name}.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text())
        if _alive(pid):
            os.killpg(pid, signal.SIGTERM)
            for _ in range(30):
                if not _alive(pid):
                    break
                time.sleep(0.5)
            else:
                os.killpg(pid, signal.SIGKILL)
            log.info("stopped %s (pid %d)", name, pid)
        pid_file.unlink()

    # -- environment ------------------------------------------------------------------------------

    def _airflow_database(self) -> str:
        """Airflow's metadata database beside finsent's: the same server, database ``airflow``."""
        from finsent.db import database_url, normalise_url

        url = sa.engine.make_url(database_url(self.settings))
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = 'airflow'")).scalar() is None:
                conn.execute(sa.text("CREATE DATABASE airflow"))
        admin.dispose()
        return normalise_url(url.set(database="airflow").render_as_string(hide_password=False))

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        from finsent.db import database_url

        env = {**os.environ, **(extra or {})}
        env.update({
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "FINSENT_DATA_DIR": str(self.settings.data_dir),
            "FINSENT_DATABASE_URL": database_url(self.settings),
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{MLFLOW_PORT}",
            "FINSENT_MLFLOW_UI_URL": f"http://127.0.0.1:{MLFLOW_PORT}",
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Seoul",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self._airflow_database(),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(AIRFLOW_PORT),
            # tasks report to the API server: it must be the port above, not Airflow's default 8080
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{AIRFLOW_PORT}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        })
        return env

    # -- commands ---------------------------------------------------------------------------------

    def up(self, extra_env: dict[str, str] | None = None) -> dict[str, str]:
        from finsent.db import create_engine, upgrade
        from finsent.tickers import seed_default_tickers

        engine = create_engine(self.settings)
        upgrade(engine)
        seed_default_tickers(engine)
        env = self.environment(extra_env)
        private_dir(self.run_dir)
        # stack.env holds the database URL and Airflow's secrets: 0600 from the first byte
        stack_env = os.open(self.run_dir / "stack.env", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(stack_env, 0o600)  # also when an older run left it readable
        with os.fdopen(stack_env, "w", encoding="utf-8") as handle:
            handle.write(json.dumps({k: v for k, v in env.items() if k.startswith(("FINSENT_", "AIRFLOW", "MLFLOW"))}))
        mlflow_dir = self.settings.data_dir / "mlflow"
        mlflow_dir.mkdir(parents=True, exist_ok=True)
        self._start("mlflow", [_bin("mlflow"), "server", "--backend-store-uri", f"sqlite:///{mlflow_dir / 'mlflow.db'}",
                               "--artifacts-destination", str(mlflow_dir / "artifacts"),
                               "--host", "127.0.0.1", "--port", str(MLFLOW_PORT)], env)
        for command in (["airflow", "db", "migrate"],
                        ["airflow", "pools", "set", "naver", "2", "Naver politeness: concurrent requests"]):
            done = subprocess.run([_bin(command[0]), *command[1:]], env=env, check=False, capture_output=True,
                                  text=True)
            if done.returncode:
                raise FinsentError(f"`{' '.join(command)}` failed:\n{done.stderr[-2000:]}")
        self._start("airflow", [_bin("airflow"), "standalone"], env)
        _wait_http(f"http://127.0.0.1:{MLFLOW_PORT}/health", 120, "mlflow")
        _wait_http(f"http://127.0.0.1:{AIRFLOW_PORT}/api/v2/monitor/health", 240, "airflow")
        password = self._admin_password()
        sys.stdout.write(
            f"\nfinsent is up\n  Airflow   http://127.0.0.1:{AIRFLOW_PORT}  (login admin / {password})\n"
            f"  Sentiment http://127.0.0.1:{AIRFLOW_PORT}/finsent/sentiment  (in the UI: Browse -> Sentiment)\n"
            f"  MLflow    http://127.0.0.1:{MLFLOW_PORT}\n  data      {self.settings.data_dir}\n"
            f"  logs      {self.log_dir}\n  stop with `make down`\n")
        return env

    def _admin_password(self) -> str:
        generated = self.airflow_home / "simple_auth_manager_passwords.json.generated"
        for _ in range(60):
            if generated.is_file():
                return json.loads(generated.read_text()).get("admin", "?")
            time.sleep(1)
        return f"(see {generated})"

    def down(self) -> None:
        for name in ("airflow", "mlflow", "naver"):
            self._stop(name)
        if not self.settings.database_url:
            from finsent.db import stop_embedded_server

            stop_embedded_server(self.settings.embedded_pgdata)

    # -- the demo ----------------------------------------------------------------------------------

    def demo(self) -> None:
        from finsent.ml.models.tiny import make_tiny_model

        url_file = self.run_dir / "naver.url"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._stop("naver")  # a fresh loopback board each time: the demo starts from what it serves
        url_file.unlink(missing_ok=True)
        self._start("naver", [sys.executable, "-m", "finsent.ingest.loopback", "--tickers", DEMO_TICKERS,
                              "--url-file", str(url_file)], {**os.environ, "PYTHONPATH": str(ROOT)})
        for _ in range(60):
            if url_file.is_file() and url_file.read_text():
                break
            time.sleep(0.5)
        naver = url_file.read_text()
        tiny = self.settings.data_dir / "models" / "tiny-gpt-neox"
        if not (tiny / "config.json").is_file():
            make_tiny_model(tiny)
        env = self.up({"FINSENT_TICKERS": DEMO_TICKERS, "FINSENT_CRAWL_DELAY_S": "0.05",
                       "FINSENT_BACKFILL_DAYS": "150", **{f"FINSENT_NAVER_{k}_URL": naver
                                                         for k in ("BOARD", "PRICE", "LEGACY", "API")}})
        label_after = self._latest_run_id(env, "finsent_label")
        self._run_and_wait(env, "finsent_ingest")
        self._wait(env, "finsent_label", after=label_after)  # started by the posts/prices assets
        score_after = self._latest_run_id(env, "finsent_score")
        self._run_and_wait(env, "finsent_train", {"model": "lora", "base_model": str(tiny), "prompt": "zero-shot",
                                                  "max_steps": 60, "rules": "all"})
        self._wait(env, "finsent_score", after=score_after)  # started by the new champion
        sys.stdout.write("\ndemo finished: all four DAGs succeeded; open the Sentiment page above\n")

    def _latest_run_id(self, env: dict[str, str], dag_id: str) -> int:
        engine = sa.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM dag_run WHERE dag_id = :d"),
                                    {"d": dag_id}).scalar()
        finally:
            engine.dispose()

    def _run_and_wait(self, env: dict[str, str], dag_id: str, conf: dict | None = None) -> None:
        after = self._latest_run_id(env, dag_id)
        command = [_bin("airflow"), "dags", "trigger", dag_id] + (["--conf", json.dumps(conf)] if conf else [])
        done = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
        if done.returncode:
            raise FinsentError(f"could not trigger {dag_id}:\n{done.stderr[-2000:]}")
        self._wait(env, dag_id, after=after)

    def _wait(self, env: dict[str, str], dag_id: str, after: int, timeout: float = 900) -> None:
        """Wait for a run of ``dag_id`` newer than ``after`` to succeed (fail fast if it fails)."""
        engine = sa.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    row = conn.execute(sa.text(
                        "SELECT state, run_id FROM dag_run WHERE dag_id = :d AND id > :a ORDER BY id DESC LIMIT 1"),
                        {"d": dag_id, "a": after}).first()
                if row is not None and row.state == "success":
                    log.info("%s: run %s succeeded", dag_id, row.run_id)
                    return
                if row is not None and row.state == "failed":
                    raise FinsentError(f"{dag_id} run {row.run_id} failed; see its task logs in the Airflow UI")
                time.sleep(3)
        finally:
            engine.dispose()
        raise FinsentError(f"{dag_id} did not succeed within {timeout:.0f}s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
