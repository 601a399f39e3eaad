"""One owner of the embedded Postgres's life (finsent.stack.embedded): a CLI command stops the server it
started; ``finsent db start`` and a running stack keep it until ``db stop`` / ``stack down``; a
command never stops it under another command, nor a server it found running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from finsent.config import load_settings
from finsent.db import stop_embedded_server
from finsent.stack.embedded import command_session

CLI = [sys.executable, "-m", "finsent.cli"]


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "fs"
    env = {"FINSENT_DATA_DIR": str(folder), "FINSENT_ENV_FILE": str(tmp_path / "none"),
           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FINSENT_DATABASE_URL", raising=False)
    yield folder, env
    stop_embedded_server(folder / "postgres")


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([*CLI, *args], env=env, check=False, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _running(folder: Path) -> bool:
    return (folder / "postgres" / "postmaster.pid").exists()


def test_db_start_keeps_it_until_db_stop(data):
    folder, env = data
    _cli(env, "db", "start")
    assert _running(folder)
    _cli(env, "db", "upgrade")  # a command on a kept server leaves it running
    assert _running(folder)
    url = _cli(env, "db", "url")
    assert url.stdout.startswith("postgresql") and _running(folder)  # the URL it printed answers
    _cli(env, "db", "stop")
    assert not _running(folder)


def test_a_running_stack_keeps_it_and_a_dead_stacks_claim_does_not(data):
    folder, env = data
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (folder / "run").mkdir(parents=True)
        (folder / "run" / "airflow-scheduler.pid").write_text(str(sleeper.pid))  # a stack process, alive
        (folder / "run" / "postgres.owner").write_text("stack\n")
        _cli(env, "db", "upgrade")
        assert _running(folder)  # the stack owns it: the command leaves it running
        refused = subprocess.run([*CLI, "db", "stop"], env=env, check=False, capture_output=True, text=True,
                                 timeout=120)
        assert refused.returncode == 2 and "finsent stack down" in refused.stderr and _running(folder)
    finally:
        sleeper.kill()
        sleeper.wait()
    _cli(env, "tickers", "list")  # the stack is gone (its claim is stale): a server found running stays
    assert _running(folder)
    stop_embedded_server(folder / "postgres")
    _cli(env, "tickers", "list")  # started by this command, claimed by no live stack: stopped by it
    assert not _running(folder)


def test_the_last_command_out_stops_it_never_one_still_in_use(data):
    folder, env = data
    with command_session(load_settings()):  # another command using the server, started before it runs
        _cli(env, "db", "upgrade")  # starts it, cannot stop it under the other command: hands it on
        assert _running(folder) and (folder / "run" / "postgres.owner").read_text().strip() == "cli"
    assert not _running(folder)  # the other command was the last out: it stopped it
    assert not (folder / "run" / "postgres.owner").exists()


def test_a_server_found_running_is_left_as_it_was(data):
    from finsent.db import embedded_server_url

    folder, env = data
    embedded_server_url(folder / "postgres")  # a library call (a notebook) started it
    _cli(env, "db", "upgrade")
    assert _running(folder)
