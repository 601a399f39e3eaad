"""The parts of `finsent stack` that need no Airflow run: the settings file the CLI reads, private
files of the processes it starts, Airflow's log server on the loopback, a quiet `stack down`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from finsent.config import load_settings
from finsent.db import embedded_server_url, stop_embedded_server
from finsent.ml.registry import tracking_uri
from finsent.stack.processes import Processes


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch) -> Path:
    data = tmp_path / "data"
    for key in ("MLFLOW_TRACKING_URI", "FINSENT_TICKERS", "FINSENT_DATABASE_URL", "FINSENT_NAVER_BOARD_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("FINSENT_DATA_DIR", str(data))
    monkeypatch.setenv("FINSENT_ENV_FILE", str(tmp_path / "none.env"))
    return data


def test_the_cli_reads_the_settings_of_the_stack_on_its_data_folder(data_dir: Path, tmp_path: Path, monkeypatch):
    assert tracking_uri(load_settings()) == f"sqlite:///{data_dir / 'mlflow' / 'mlflow.db'}"
    (data_dir / "run").mkdir(parents=True)
    (data_dir / "run" / "cli.env").write_text(
        "# written by `finsent stack up`\nMLFLOW_TRACKING_URI=http://127.0.0.1:5123\nFINSENT_TICKERS=005930,000660\n"
        f"FINSENT_NAVER_BOARD_URL=http://127.0.0.1:9999\nFINSENT_DATA_DIR={tmp_path / 'elsewhere'}\n")
    settings = load_settings()
    assert tracking_uri(settings) == "http://127.0.0.1:5123"
    assert settings.tickers == ["005930", "000660"] and settings.naver_board_url == "http://127.0.0.1:9999"
    assert settings.data_dir == data_dir.resolve()  # the folder is never chosen from inside itself
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:7000")  # the real environment wins
    monkeypatch.setenv("FINSENT_TICKERS", "035420")
    settings = load_settings()
    assert tracking_uri(settings) == "http://127.0.0.1:7000" and settings.tickers == ["035420"]


def test_started_processes_write_private_files_whatever_the_umask(tmp_path: Path):
    previous = os.umask(0o022)
    try:
        processes = Processes(tmp_path / "run", tmp_path / "logs", tmp_path)
        out = tmp_path / "written"
        processes.start("writer", [sys.executable, "-c", f"import os; os.makedirs({str(out)!r}); "
                                   f"open({str(out / 'file')!r}, 'w').write('x'); print('done', flush=True)"],
                        dict(os.environ))
        deadline = time.monotonic() + 30
        while not (out / "file").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert os.umask(0o022) == 0o022  # this process's umask is untouched
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode)
             for p in (out, out / "file", tmp_path / "run", tmp_path / "logs", tmp_path / "logs" / "writer.log")}
    assert modes == {"written": 0o700, "file": 0o600, "run": 0o700, "logs": 0o700, "writer.log": 0o600}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(pids: set[int]) -> list[tuple[str, int]]:
    return sorted((c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="inet")
                  if c.status == psutil.CONN_LISTEN and c.pid in pids)


@pytest.mark.timeout(180)
def test_the_airflow_log_server_listens_on_the_loopback_at_its_configured_port(tmp_path: Path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__API__SECRET_KEY": "test-secret"})
    processes = Processes(tmp_path / "run", tmp_path / "logs", tmp_path)
    pid = processes.start("log-server", [sys.executable, "-m", "finsent.stack.log_server", str(port)], env)
    try:
        family: set[int] = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            family = {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
            if _listening(family):
                break
            time.sleep(0.5)
        assert _listening(family) == [("127.0.0.1", port)], processes.log_file("log-server").read_text()[-2000:]
    finally:
        processes.stop("log-server")


@pytest.mark.timeout(180)
def test_stack_down_prints_one_line_per_process(tmp_path: Path):
    data = tmp_path / "data"
    embedded_server_url(data / "postgres")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINSENT_", "MLFLOW", "AIRFLOW"))}
    env.update({"FINSENT_DATA_DIR": str(data), "FINSENT_ENV_FILE": str(tmp_path / "none")})
    try:
        done = subprocess.run([sys.executable, "-m", "finsent.cli", "stack", "down"], env=env, check=False,
                              capture_output=True, text=True, timeout=120)
    finally:
        stop_embedded_server(data / "postgres")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, lines  # the embedded Postgres stopped; the stack is down
    assert "stopped the embedded Postgres" in lines[0] and "is down" in lines[1]
    assert not (data / "postgres" / "postmaster.pid").exists()


def test_the_demos_backtest_conf_is_a_valid_run_of_the_backtest_dag():
    """`make demo` and the compose demo trigger finsent_backtest with DEMO_BACKTEST: every key a DAG
    param, every option a valid BacktestSpec value, small enough windows to walk the demo's board."""
    from finsent.ml.backtest.spec import BacktestSpec
    from finsent.specs import from_values
    from finsent.stack.runner import DEMO_BACKTEST, DEMO_DAYS

    spec = from_values(BacktestSpec, {k: v for k, v in DEMO_BACKTEST.items() if k not in ("name", "replace")})
    spec.validate()
    assert spec.model == "baseline" and spec.definition == "next_open_close"
    sessions = DEMO_DAYS * 5 // 7 - 10  # weekdays, less holidays: ~170
    assert (sessions - spec.train_sessions - spec.embargo) // spec.step_sessions >= 8  # ~100 scored sessions
