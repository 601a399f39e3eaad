"""Airflow for the DAG tests: a throwaway AIRFLOW_HOME with a migrated sqlite metadata database.

Airflow reads its configuration when first imported, so the environment is set here, before any
test module of this folder imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_HOME = Path(tempfile.mkdtemp(prefix="finsent-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(_HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
})


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    migrate = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=False, capture_output=True,
                             text=True, timeout=300, env=os.environ.copy())
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    pool = subprocess.run([sys.executable, "-m", "airflow", "pools", "set", "naver", "2", "Naver politeness"],
                          check=False, capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert pool.returncode == 0, pool.stderr[-3000:]
    return _HOME


@pytest.fixture
def dagbag(airflow_db):
    """DAGs parsed afresh for each test: dag.test(run_conf=...) leaves its conf in the DAG object's
    params, so a shared DagBag hands one test's params (a wrong alias) to the next."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(ROOT / "dags"))
