"""``finsent stack up|down|demo``: the whole pipeline on one machine, without Docker.

up: the embedded Postgres (finsent's database and Airflow's), ``finsent db upgrade``, an MLflow
server on 127.0.0.1:5000 (sqlite store and artifacts under ``FINSENT_DATA_DIR/mlflow``), and Airflow
on 127.0.0.1:8080 with ``AIRFLOW_HOME=FINSENT_DATA_DIR/airflow``, this repository's dags/ and
plugins/, examples off, the ``naver`` pool created, DAGs unpaused: ``airflow standalone``
(LocalExecutor) or, with ``--executor celery``, the API server, scheduler, DAG processor,
triggerer and two Celery workers (queue ``default``, and ``gpu`` for training) on the local Redis.
Prints the URLs and the admin password. Running it again reuses what runs, or restarts Airflow
and MLflow when their settings changed. down: stops everything up and demo started, task
processes included. demo: up against the loopback Naver (a board with a planted signal), then
ingest -> label -> train (a baseline, when there is no champion yet) -> score, waiting for each.
Every wait has a timeout and names the log to read.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from finsent.config import Settings
from finsent.errors import FinsentError
from finsent.names import private_dir
from finsent.orchestration.processes import Processes, answers, wait_for_file, wait_http

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]  # the repository: dags/, plugins/, docker/
# Overridable so a second stack (tests, a demo beside a running `make up`) does not collide.
MLFLOW_PORT = int(os.environ.get("FINSENT_MLFLOW_PORT", "5000"))
AIRFLOW_PORT = int(os.environ.get("FINSENT_AIRFLOW_PORT", "8080"))
DEMO_TICKERS = "005930,000660,005380"
DEMO_DAYS = 250  # about 170 sessions per stock
DEMO_POSTS_PER_TICKER = 3000
DEMO_SIGNAL = 0.6  # share of posts whose title foretells the next session (right 85% of the time)
DEMO_CRAWL_DELAY_S = 0.05  # the loopback board is ours: no politeness delay needed
EXECUTORS = ("local", "celery")
# One source for the Airflow settings that `finsent stack` and docker-compose.yml share.
SHARED_AIRFLOW_ENV = ROOT / "docker" / "airflow.env"
# Celery workers: name -> (queue, concurrency). The `gpu` queue runs `train`.
CELERY_WORKERS = {"airflow-worker": ("default", 2), "airflow-worker-gpu": ("gpu", 1)}
AIRFLOW_PROCESSES = {"local": ("airflow",),
                     "celery": ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
                                "airflow-triggerer", *CELERY_WORKERS)}
ALL_AIRFLOW = tuple(dict.fromkeys(name for names in AIRFLOW_PROCESSES.values() for name in names))
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
TIMEOUTS_S = {"mlflow": 180, "airflow": 300, "naver": 120, "command": 300,
              "finsent_ingest": 900, "finsent_label": 900, "finsent_train": 1200, "finsent_score": 900,
              "finsent_backtest": 1800}


def demo_naver_args() -> list[str]:
    """``python -m finsent.ingest.loopback`` arguments of the demo's board (here and in docker compose)."""
    return ["--tickers", DEMO_TICKERS, "--days", str(DEMO_DAYS), "--posts-per-ticker", str(DEMO_POSTS_PER_TICKER),
            "--signal", str(DEMO_SIGNAL)]


def demo_settings(naver_url: str) -> dict[str, str]:
    """The finsent settings of every Airflow process of a demo: the demo's tickers, crawled from ``naver_url``."""
    return {"FINSENT_TICKERS": DEMO_TICKERS, "FINSENT_CRAWL_DELAY_S": str(DEMO_CRAWL_DELAY_S),
            "FINSENT_BACKFILL_DAYS": str(DEMO_DAYS + 10),
            **{f"FINSENT_NAVER_{k}_URL": naver_url for k in ("BOARD", "PRICE", "LEGACY", "API")}}


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def shared_airflow_settings(path: Path = SHARED_AIRFLOW_ENV) -> dict[str, str]:
    """``KEY=VALUE`` lines of docker/airflow.env (comments and blank lines skipped)."""
    if not path.is_file():
        raise FinsentError(f"{path} is missing: `finsent stack` runs from a checkout (pip install -e .)")
    settings = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.run_dir = settings.data_dir / "run"
        self.log_dir = settings.data_dir / "logs"
        self.airflow_home = settings.data_dir / "airflow"
        self.processes = Processes(self.run_dir, self.log_dir, ROOT)

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

    def _secrets(self) -> dict[str, str]:
        """The JWT and session secrets every Airflow process of this stack shares (generated once,
        kept in run/secrets.json, mode 600; delete it to rotate)."""
        path = self.run_dir / "secrets.json"
        if not path.is_file():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(json.dumps({"AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
                                        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32)}))
        return json.loads(path.read_text())

    def environment(self, executor: str = "local", extra: dict[str, str] | None = None) -> dict[str, str]:
        from finsent.db import database_url

        if executor not in EXECUTORS:
            raise FinsentError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
        env = {**shared_airflow_settings(), **self._secrets(), **os.environ, **(extra or {})}
        airflow_db = self._airflow_database()
        env.update({
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            # every child (Airflow, its task processes, MLflow, the loopback Naver) imports this checkout
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
            "FINSENT_DATA_DIR": str(self.settings.data_dir),
            "FINSENT_DATABASE_URL": database_url(self.settings),
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{MLFLOW_PORT}",
            "FINSENT_MLFLOW_UI_URL": f"http://127.0.0.1:{MLFLOW_PORT}",
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(AIRFLOW_PORT),
            # tasks report to the API server: it must be the port above, not Airflow's default 8080
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{AIRFLOW_PORT}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        })
        if executor == "celery":
            env.update({"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                        "AIRFLOW__CELERY__BROKER_URL": env.get("AIRFLOW__CELERY__BROKER_URL", DEFAULT_BROKER),
                        "AIRFLOW__CELERY__RESULT_BACKEND": env.get("AIRFLOW__CELERY__RESULT_BACKEND",
                                                                   f"db+{airflow_db}"),
                        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "finsent.orchestration.processes.worker_hostname"})
        else:
            env["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
        return env

    @staticmethod
    def _fingerprint(env: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in sorted(env.items()) if k.startswith(("FINSENT_", "AIRFLOW", "MLFLOW"))}

    def _command(self, command: list[str], env: dict[str, str]) -> None:
        try:
            done = subprocess.run([_bin(command[0]), *command[1:]], env=env, check=False, capture_output=True,
                                  text=True, timeout=TIMEOUTS_S["command"])
        except subprocess.TimeoutExpired as exc:
            raise FinsentError(f"`{' '.join(command)}` did not finish within {exc.timeout:.0f}s") from exc
        if done.returncode:
            raise FinsentError(f"`{' '.join(command)}` failed:\n{done.stderr[-2000:]}")

    # -- commands ---------------------------------------------------------------------------------

    def up(self, executor: str = "local", extra_env: dict[str, str] | None = None) -> dict[str, str]:
        from finsent.db import create_engine, upgrade
        from finsent.tickers import seed_default_tickers

        engine = create_engine(self.settings)
        upgrade(engine)
        seed_default_tickers(engine)
        engine.dispose()
        env = self.environment(executor, extra_env)
        fingerprint = self._fingerprint(env)
        state = self.run_dir / "stack.env"
        previous = json.loads(state.read_text()) if state.is_file() else None
        running = [name for name in (*ALL_AIRFLOW, "mlflow") if self.processes.pid(name) is not None]
        if running and previous != fingerprint:
            changed = sorted(k for k in {**fingerprint, **(previous or {})}
                             if (previous or {}).get(k) != fingerprint.get(k))
            log.info("settings changed (%s): restarting %s", ", ".join(changed) or "?", ", ".join(running))
            for name in running:
                self.processes.stop(name)
            running = []
        private_dir(self.run_dir)
        # stack.env describes the database and Airflow's settings: 0600 from the first byte
        handle = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(handle, 0o600)  # also when an older run left it readable
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(json.dumps(fingerprint))
        mlflow_dir = self.settings.data_dir / "mlflow"
        mlflow_dir.mkdir(parents=True, exist_ok=True)
        self.processes.start("mlflow", [_bin("mlflow"), "server", "--backend-store-uri",
                                        f"sqlite:///{mlflow_dir / 'mlflow.db'}", "--artifacts-destination",
                                        str(mlflow_dir / "artifacts"), "--host", "127.0.0.1",
                                        "--port", str(MLFLOW_PORT)], env)
        if not all(name in running for name in AIRFLOW_PROCESSES[executor]):
            self._command(["airflow", "db", "migrate"], env)
            self._command(["airflow", "pools", "set", "naver", "2", "Naver politeness: concurrent requests"], env)
            self._start_airflow(executor, env)
        else:
            log.info("Airflow (%s executor) already running with these settings: reusing it", executor)
        wait_http(f"http://127.0.0.1:{MLFLOW_PORT}/health", TIMEOUTS_S["mlflow"], "MLflow",
                  self.processes.log_file("mlflow"))
        api_log = self.processes.log_file(AIRFLOW_PROCESSES[executor][0])
        wait_http(f"http://127.0.0.1:{AIRFLOW_PORT}/api/v2/monitor/health", TIMEOUTS_S["airflow"], "Airflow",
                  api_log)
        password = self._admin_password(api_log)
        sys.stdout.write(
            f"\nfinsent is up ({executor} executor)\n"
            f"  Airflow   http://127.0.0.1:{AIRFLOW_PORT}  (login admin / {password})\n"
            f"  Sentiment http://127.0.0.1:{AIRFLOW_PORT}/finsent/sentiment  (in the UI: Browse -> Sentiment)\n"
            f"  MLflow    http://127.0.0.1:{MLFLOW_PORT}\n  data      {self.settings.data_dir}\n"
            f"  logs      {self.log_dir}\n  stop with `make down`\n")
        sys.stdout.flush()
        return env

    def _start_airflow(self, executor: str, env: dict[str, str]) -> None:
        if executor == "local":
            self.processes.start("airflow", [_bin("airflow"), "standalone"], env)
            return
        for name in AIRFLOW_PROCESSES["celery"]:
            if name in CELERY_WORKERS:
                queue, concurrency = CELERY_WORKERS[name]
                command = ["celery", "worker", "--queues", queue, "--concurrency", str(concurrency),
                           "--celery-hostname", f"{queue}@%h"]
                if queue != "default":  # one log server per host (port 8793); logs are local files here
                    command.append("--skip-serve-logs")
                self.processes.start(name, [_bin("airflow"), *command], {**env, "FINSENT_WORKER_NAME": queue})
            else:
                self.processes.start(name, [_bin("airflow"), name.removeprefix("airflow-")], env)

    def _admin_password(self, api_log: Path) -> str:
        generated = self.airflow_home / "simple_auth_manager_passwords.json.generated"
        for _ in range(60):
            if generated.is_file():
                return json.loads(generated.read_text()).get("admin", "?")
            time.sleep(1)
        return f"(not written yet: see {generated} or {api_log})"

    def down(self) -> None:
        """Stop everything up and demo started (any executor), with their task processes."""
        for name in (*ALL_AIRFLOW, "mlflow", "naver"):
            self.processes.stop(name)
        if not self.settings.database_url:
            from finsent.db import stop_embedded_server

            stop_embedded_server(self.settings.embedded_pgdata)
        log.info("finsent stack under %s is down", self.settings.data_dir)

    # -- the demo ----------------------------------------------------------------------------------

    def demo(self, executor: str = "local") -> None:
        from finsent.orchestration.demo import DemoRuns

        naver = self._loopback_naver()
        env = self.up(executor, demo_settings(naver))
        scheduler = "airflow" if executor == "local" else "airflow-scheduler"
        DemoRuns(env, self.airflow_home, self.processes.log_file(scheduler), TIMEOUTS_S).run()

    def _loopback_naver(self) -> str:
        """The running loopback Naver's URL, or a new one's: a second demo reuses the first's board,
        so the Airflow that runs keeps pointing at a live server."""
        url_file = self.run_dir / "naver.url"
        if self.processes.pid("naver") is not None and url_file.is_file():
            url = url_file.read_text().strip()
            if url and answers(f"{url}/robots.txt"):
                log.info("loopback Naver already serving at %s: reusing it", url)
                return url
        self.processes.stop("naver")
        url_file.unlink(missing_ok=True)
        self.processes.start("naver", [sys.executable, "-m", "finsent.ingest.loopback", *demo_naver_args(),
                                       "--url-file", str(url_file)],
                             {**os.environ, "PYTHONPATH": os.pathsep.join(
                                 p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)})
        return wait_for_file(url_file, TIMEOUTS_S["naver"], "the loopback Naver", self.processes.log_file("naver"))
