"""`finsent stack demo` (what `make demo` runs): a real airflow standalone, MLflow server and embedded
Postgres; the loopback Naver and a tiny model; all four DAGs must succeed, then `stack down` stops it all."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.dags.conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_demo_runs_every_dag_to_success_and_down_stops_it(tmp_path: Path):
    data = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FINSENT_", "MLFLOW"))}
    env.update({"FINSENT_DATA_DIR": str(data), "FINSENT_ENV_FILE": str(tmp_path / "none"),
                "FINSENT_MLFLOW_PORT": str(_free_port()), "FINSENT_AIRFLOW_PORT": str(_free_port())})
    cli = [sys.executable, "-m", "finsent.cli", "stack"]
    try:
        done = subprocess.run([*cli, "demo"], env=env, cwd=ROOT, check=False, capture_output=True, text=True,
                              timeout=1500)
        assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-5000:])
        assert "all four DAGs succeeded" in done.stdout and "login admin /" in done.stdout
        page = urllib.request.urlopen(f"http://127.0.0.1:{env['FINSENT_AIRFLOW_PORT']}/finsent/sentiment",
                                      timeout=30).read().decode()
        assert "champion: <b>finsent-updown v" in page and "<svg" in page
    finally:
        subprocess.run([*cli, "down"], env=env, cwd=ROOT, check=False, capture_output=True, timeout=300)
    for name in ("airflow", "mlflow", "naver"):
        assert not (data / "run" / f"{name}.pid").exists()
    assert not (data / "postgres" / "postmaster.pid").exists()
