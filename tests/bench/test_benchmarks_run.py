"""Every benchmark in bench/ runs at a tiny size in the suite, so none can rot unseen.

Each runs as a user would start it (``python bench/NAME.py --tiny``) in a subprocess; a new
benchmark without ``--tiny`` fails here. The timings they print are not checked (speed is
measured in bench/, never in tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the soak (and its parts) has its own test: tests/bench/test_soak.py
BENCHMARKS = sorted(p.name for p in (ROOT / "bench").glob("*.py")
                    if p.name not in ("__init__.py", "common.py") and not p.name.startswith("soak"))


def test_the_benchmarks_are_found():
    assert {"ingest.py", "labels.py", "train.py", "score.py", "backtest.py", "daily.py"} <= set(BENCHMARKS)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("bench", BENCHMARKS)
def test_benchmark_runs_tiny(bench: str, pg_admin_url: str, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINSENT_", "MLFLOW"))}
    # the database benchmarks make (and drop) their own scratch database on the test server
    env.update({"FINSENT_DATABASE_URL": pg_admin_url, "FINSENT_DATA_DIR": str(tmp_path / "data"),
                "FINSENT_ENV_FILE": str(tmp_path / "none"), "HF_HUB_OFFLINE": "1"})
    done = subprocess.run([sys.executable, str(ROOT / "bench" / bench), "--tiny"], env=env, cwd=tmp_path,
                          check=False, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    assert "-----" in done.stdout or "|---" in done.stdout  # printed its result table (plain or Markdown)
