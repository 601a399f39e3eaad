"""The CLI's output is finsent's: MLflow's store migrations, prints and warnings go to the data
folder's logs/cli.log (named in one closing line), and ``-v`` shows them all."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

from finsent.config import load_settings

OURS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING|ERROR|DEBUG) finsent[.:]")


def _score(*flags: str) -> subprocess.CompletedProcess:
    # no champion yet: MLflow creates its store (alembic's migrations, MLflow's INFO lines), then exit 2
    return subprocess.run([sys.executable, "-m", "finsent.cli", *flags, "score", "--source", "board"],
                          env=os.environ.copy(), check=False, capture_output=True, text=True, timeout=300)


def test_library_noise_goes_to_the_log_file(database_url):
    done = _score()
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and all(OURS.match(line) for line in lines), lines  # nothing but finsent's own lines
    assert "no version 'champion'" in done.stderr
    log = load_settings().data_dir / "logs" / "cli.log"
    assert f"library message(s) (MLflow, warnings) in {log}" in lines[-1]
    text = log.read_text(encoding="utf-8")
    assert "mlflow" in text and "alembic" in text and "no version 'champion'" in text  # finsent's, for context
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_verbose_shows_everything(database_url):
    done = _score("-v")
    assert "mlflow" in done.stderr or "alembic" in done.stderr
    assert not (load_settings().data_dir / "logs" / "cli.log").exists()
