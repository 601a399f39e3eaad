"""The soak (bench/soak.py) at the suite's size: 3 simulated days, 2 stocks, all seven faults.

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
    faults = {f for r in rows for f in r["faults"]}
    assert faults == {"5xx+drops", "slow host", "killed worker", "postgres restart", "history rewrite",
                      "poisoned title", "dropped session"}
    by_day = {r["day"]: r for r in rows}
    # day 1: 5xx past the client's retries and a host slower than its timeout (Airflow retried tasks),
    # then a crawl killed mid-request
    assert by_day[1]["faults_served"] >= 10 and by_day[1]["retries"] >= 2
    assert "killed -9 mid-request" in " ".join(by_day[1]["notes"])
    # day 2: the backends terminated under the ingest run's crawl (retried); the rewritten history is
    # stored as served; the poisoned post (only that) is quarantined, and stored the next day once served clean
    notes = " ".join(by_day[2]["notes"])
    assert int(notes.split(" backend(s) terminated")[0].rsplit(" ", 1)[-1]) >= 1 and by_day[2]["retries"] >= 1
    assert "bars rewritten" in notes
    assert (by_day[2]["quarantined"], by_day[2]["refused_posts_missing"]) == (1, 1)
    assert (by_day[3]["quarantined"], by_day[3]["refused_posts_missing"]) == (1, 0)
    # day 3: a session gone from the feed (the checks: gone from the store, the index equal to a rebuild)
    assert "dropped from the feed" in " ".join(by_day[3]["notes"])
    assert all(r["rows_checked"] > 2000 and not r["crawl_runs"].get("running") for r in rows)
    assert "| day | date |" in done.stdout
