"""The soak (bench/soak.py) at the suite's size: 3 simulated days, 2 stocks, all six faults.

It runs as ``make soak`` runs it (a subprocess: its own AIRFLOW_HOME, a scratch database on the
test server, the loopback Naver); the checks are the soak's own, read back from its JSON rows,
and this test also makes sure each fault really happened (a soak whose faults never fire proves
nothing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)
def test_three_days_with_every_fault_stay_exact_and_green(pg_admin_url: str, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINSENT_", "MLFLOW", "AIRFLOW"))}
    env.update({"FINSENT_DATABASE_URL": pg_admin_url, "HF_HUB_OFFLINE": "1"})
    out = tmp_path / "soak.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--tiny", "--json", str(out)], env=env,
                          cwd=tmp_path, check=False, capture_output=True, text=True, timeout=840)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    rows = json.loads(out.read_text())
    assert [r["day"] for r in rows] == [0, 1, 2, 3]
    assert all(not r["problems"] and r["runs"] == ["ingest ok", "label ok", "score ok"] for r in rows), rows
    faults = [f for r in rows for f in r["faults"]]
    assert sorted(faults) == sorted(["5xx+drops", "slow host", "killed worker", "postgres restart", "history rewrite",
                                     "poisoned title"])
    by_day = {r["day"]: r for r in rows}
    # day 1: 5xx past the client's retries and a host slower than its timeout: Airflow retried tasks
    assert by_day[1]["faults_served"] >= 10 and by_day[1]["retries"] >= 2
    # day 2: a crawl killed mid-request, then the backends terminated under the ingest run's crawl
    notes = " ".join(by_day[2]["notes"])
    assert "killed -9 mid-request" in notes and by_day[2]["retries"] >= 1
    assert int(notes.split(" backend(s) terminated")[0].rsplit(" ", 1)[-1]) >= 1
    # day 3: the rewritten history is stored as served; the poisoned post (only that) is quarantined
    assert "bars rewritten" in " ".join(by_day[3]["notes"]) and by_day[3]["quarantined"] == 1
    assert all(r["rows_checked"] > 2000 for r in rows)
    assert "| day | date |" in done.stdout
