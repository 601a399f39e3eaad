"""``finsent stack up|down|demo``: the whole pipeline on one machine, without Docker.

up: the embedded Postgres (finsent's database and Airflow's), ``finsent db upgrade``, an MLflow
server on 127.0.0.1:5000 (sqlite store and artifacts under ``FINSENT_DATA_DIR/mlflow``), and Airflow
on 127.0.0.1:8080 with ``AIRFLOW_HOME=FINSENT_DATA_DIR/airflow``, this repository's dags/ and
plugins/, examples off, the ``naver`` pool created, DAGs unpaused: the API server, scheduler, DAG
processor and triggerer (LocalExecutor) or, with ``--executor celery``, those and two Celery
workers (queue ``default``, and ``gpu`` for training) on the local Redis; the task-log servers on
127.0.0.1 only (``finsent.stack.log_server``). Every process runs with umask 077. Prints
the URLs and the admin password, and writes ``run/cli.env``: the settings (MLflow's URI, the
demo's board) the CLI reads by itself when it runs on this data folder. Running it again reuses
what runs, or restarts Airflow and MLflow when their settings changed. down: stops everything up
and demo started, task processes included, and removes ``run/cli.env``. demo: up against the
loopback Naver (a board with a planted signal), then ingest -> label -> train (a baseline, when
there is no champion yet) -> score -> a walk-forward backtest (``DEMO_BACKTEST``), waiting for
each. Every wait has a timeout and names the log to read.
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
from finsent.names import private_files, private_folder, write_private
from finsent.stack.processes import Processes, answers, wait_for_file, wait_http

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
# The demo's walk-forward backtest (finsent_backtest's conf): small windows and large steps, so the
# page shows ~100 out-of-sample sessions after a minute of refits; walked again by every demo
# (replace: a second demo's labels may differ from the first's, and a resume would refuse them).
DEMO_BACKTEST = {"name": "demo", "model": "baseline", "train_sessions": 60, "step_sessions": 10, "replace": True}
EXECUTORS = ("local", "celery")
# One source for the Airflow settings that `finsent stack` and docker-compose.yml share.
SHARED_AIRFLOW_ENV = ROOT / "docker" / "airflow.env"
# Celery workers: name -> (queue, concurrency). The `gpu` queue runs `train`.
CELERY_WORKERS = {"airflow-worker": ("default", 2), "airflow-worker-gpu": ("gpu", 1)}
# Airflow's log servers, on 127.0.0.1 (its own bind every interface): name -> ([logging] option, default port)
LOG_SERVERS = {"airflow-log-server": ("WORKER_LOG_SERVER_PORT", "8793"),
               "airflow-trigger-log-server": ("TRIGGER_LOG_SERVER_PORT", "8794")}
AIRFLOW_CORE = ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", *LOG_SERVERS)
AIRFLOW_PROCESSES = {"local": AIRFLOW_CORE, "celery": (*AIRFLOW_CORE, *CELERY_WORKERS)}
# "airflow": the `airflow standalone` of older stacks, still stopped by `down` and restarted by `up`
ALL_AIRFLOW = ("airflow", *dict.fromkeys(name for names in AIRFLOW_PROCESSES.values() for name in names))
CLI_SETTINGS = "cli.env"  # under run/: what the CLI reads when it runs on this data folder
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
TIMEOUTS_S = {"mlflow": 180, "airflow": 300, "naver": 120, "command": 300,
              "finsent_ingest": 900, "finsent_label": 900, "finsent_train": 1200, "finsent_score": 900,
              "finsent_backtest": 1800}


def demo_naver_args() -> list[str]:
    """``python -m finsent.loopback`` arguments of the demo's board (here and in docker compose)."""
    return ["--tickers", DEMO_TICKERS, "--days", str(DEMO_DAYS), "--posts-per-ticker", str(DEMO_POSTS_PER_TICKER),
            "--signal", str(DEMO_SIGNAL)]


def demo_settings(naver_url: str) -> dict[str, str]:
    """The finsent settings of every Airflow process of a demo: the demo's tickers, crawled from ``naver_url``."""
    return {"FINSENT_TICKERS": DEMO_TICKERS, "FINSENT_CRAWL_DELAY_S": str(DEMO_CRAWL_DELAY_S),
            "FINSENT_BACKFILL_DAYS": str(DEMO_DAYS + 10),
            **{f"FINSENT_NAVER_{k}_URL": naver_url for k in ("BOARD", "PRICE", "LEGACY", "API", "NEWS", "COMMENTS")}}


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
            write_private(path, json.dumps({"AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
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
            # task logs are this user's only (Airflow chmods them 0775/0664 by default, whatever the umask)
            "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": "0o700",
            "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": "0o600",
            **{f"AIRFLOW__LOGGING__{option}": env.get(f"AIRFLOW__LOGGING__{option}", port)
               for option, port in LOG_SERVERS.values()},
        })
        if executor == "celery":
            env.update({"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                        "AIRFLOW__CELERY__BROKER_URL": env.get("AIRFLOW__CELERY__BROKER_URL", DEFAULT_BROKER),
                        "AIRFLOW__CELERY__RESULT_BACKEND": env.get("AIRFLOW__CELERY__RESULT_BACKEND",
                                                                   f"db+{airflow_db}"),
                        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "finsent.stack.processes.worker_hostname"})
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
        from finsent.stack.embedded import claim
        from finsent.tickers import seed_default_tickers

        engine = create_engine(self.settings)
        claim(self.settings, "stack")  # the stack keeps the embedded server until `down`
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
        write_private(state, json.dumps(fingerprint))  # the database's URL and Airflow's secrets
        mlflow_dir = self.settings.data_dir / "mlflow"
        for folder in (mlflow_dir, self.airflow_home, self.log_dir):  # also what an older stack left readable
            private_files(private_folder(folder))
        # --workers 1: one local user needs one async worker; uvicorn's supervisor of 4 kills workers
        # that start slower than 5 s (a busy machine), and then MLflow never answers
        self.processes.start("mlflow", [_bin("mlflow"), "server", "--backend-store-uri",
                                        f"sqlite:///{mlflow_dir / 'mlflow.db'}", "--artifacts-destination",
                                        str(mlflow_dir / "artifacts"), "--host", "127.0.0.1",
                                        "--port", str(MLFLOW_PORT), "--workers", "1"], env)
        if not all(name in running for name in AIRFLOW_PROCESSES[executor]):
            self._command(["airflow", "db", "migrate"], env)
            self._command(["airflow", "pools", "set", "naver", str(self.settings.naver_pool_slots),
                           "Naver politeness: concurrent requests (FINSENT_NAVER_POOL_SLOTS)"], env)
            self._start_airflow(executor, env)
        else:
            log.info("Airflow (%s executor) already running with these settings: reusing it", executor)
        wait_http(f"http://127.0.0.1:{MLFLOW_PORT}/health", TIMEOUTS_S["mlflow"], "MLflow",
                  self.processes.log_file("mlflow"))
        api_log = self.processes.log_file(AIRFLOW_PROCESSES[executor][0])
        wait_http(f"http://127.0.0.1:{AIRFLOW_PORT}/api/v2/monitor/health", TIMEOUTS_S["airflow"], "Airflow",
                  api_log)
        password = self._admin_password(api_log)
        cli_settings = self._write_cli_settings(env, extra_env or {})
        sys.stdout.write(
            f"\nfinsent is up ({executor} executor)\n"
            f"  Airflow   http://127.0.0.1:{AIRFLOW_PORT}  (login admin / {password})\n"
            f"  Sentiment http://127.0.0.1:{AIRFLOW_PORT}/finsent/sentiment  (in the UI: Browse -> Sentiment)\n"
            f"  MLflow    http://127.0.0.1:{MLFLOW_PORT}\n  data      {self.settings.data_dir}\n"
            f"  logs      {self.log_dir}\n  the CLI with FINSENT_DATA_DIR={self.settings.data_dir} uses this "
            f"stack's MLflow by itself ({cli_settings})\n  stop with `make down`\n")
        sys.stdout.flush()
        return env

    def _start_airflow(self, executor: str, env: dict[str, str]) -> None:
        for name in AIRFLOW_PROCESSES[executor]:
            if name in LOG_SERVERS:  # one of each per host, bound to 127.0.0.1; logs are local files here
                port = env[f"AIRFLOW__LOGGING__{LOG_SERVERS[name][0]}"]
                self.processes.start(name, [sys.executable, "-m", "finsent.stack.log_server", port], env)
            elif name in CELERY_WORKERS:
                queue, concurrency = CELERY_WORKERS[name]
                command = ["celery", "worker", "--queues", queue, "--concurrency", str(concurrency),
                           "--celery-hostname", f"{queue}@%h", "--skip-serve-logs"]
                self.processes.start(name, [_bin("airflow"), *command], {**env, "FINSENT_WORKER_NAME": queue})
            else:
                command = [name.removeprefix("airflow-")]
                if command[0] in ("scheduler", "triggerer"):  # their own log servers bind every interface
                    command.append("--skip-serve-logs")
                self.processes.start(name, [_bin("airflow"), *command], env)

    def _write_cli_settings(self, env: dict[str, str], extra_env: dict[str, str]) -> Path:
        """run/cli.env: MLflow's server and the settings this stack was started with (the demo's board
        and tickers), read by the CLI on this data folder below the real environment; `down` removes it."""
        keys = ("MLFLOW_TRACKING_URI", "FINSENT_MLFLOW_UI_URL", *extra_env)
        lines = [f"{key}={env[key]}" for key in dict.fromkeys(keys) if key in env]
        return write_private(self.run_dir / CLI_SETTINGS, "# written by `finsent stack up`; removed by "
                             "`finsent stack down`\n" + "\n".join(lines) + "\n")

    def _admin_password(self, api_log: Path) -> str:
        generated = self.airflow_home / "simple_auth_manager_passwords.json.generated"
        for _ in range(60):
            if generated.is_file():
                return json.loads(generated.read_text()).get("admin", "?")
            time.sleep(1)
        return f"(not written yet: see {generated} or {api_log})"

    def down(self) -> None:
        """Stop everything up and demo started (any executor), with their task processes."""
        (self.run_dir / CLI_SETTINGS).unlink(missing_ok=True)  # the CLI goes back to its own MLflow store
        for name in (*ALL_AIRFLOW, "mlflow", "naver"):
            self.processes.stop(name)
        if not self.settings.database_url:
            from finsent.db import stop_embedded_server
            from finsent.stack.embedded import release

            stop_embedded_server(self.settings.embedded_pgdata)
            release(self.settings)
        log.info("finsent stack under %s is down", self.settings.data_dir)

    # -- the demo ----------------------------------------------------------------------------------

    def demo(self, executor: str = "local") -> None:
        from finsent.stack.demo import DemoRuns

        naver = self._loopback_naver()
        env = self.up(executor, demo_settings(naver))
        DemoRuns(env, self.airflow_home, self.processes.log_file("airflow-scheduler"), TIMEOUTS_S,
                 backtest=DEMO_BACKTEST).run()

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
        self.processes.start("naver", [sys.executable, "-m", "finsent.loopback", *demo_naver_args(),
                                       "--url-file", str(url_file)],
                             {**os.environ, "PYTHONPATH": os.pathsep.join(
                                 p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)})
        return wait_for_file(url_file, TIMEOUTS_S["naver"], "the loopback Naver", self.processes.log_file("naver"))
