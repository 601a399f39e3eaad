"""`finsent stack`'s process handling: stop reaches children that outlived their parent, and a
second start of a running process reuses it."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest

from finsent.errors import FinsentError
from finsent.stack.processes import Processes, wait_for_file, wait_http

# A leader that starts a child which ignores SIGTERM, writes the child's pid, then exits: the child
# is reparented, like a task process whose worker went first.
ORPHAN = """
import os, signal, subprocess, sys
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
open(sys.argv[1], "w").write(str(child.pid))
signal.pause() if sys.argv[2] == "stay" else None
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("leader", ["stay", "exit"])
def test_stop_ends_every_process_of_the_session_even_orphans_that_ignore_sigterm(tmp_path: Path, leader: str):
    processes = Processes(tmp_path / "run", tmp_path / "logs", tmp_path)
    child_file = tmp_path / "child.pid"
    pid = processes.start("task", [sys.executable, "-c", ORPHAN, str(child_file), leader], {})
    child = int(wait_for_file(child_file, 30, "the child", processes.log_file("task")))
    assert _alive(child)
    if leader == "stay":
        assert processes.start("task", [sys.executable, "-c", "pass"], {}) == pid  # reused, not started twice
    processes.stop("task", grace_s=2)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child) and not _alive(pid)
    assert processes.running() == [] and not (tmp_path / "run" / "task.pid").exists()


def test_waits_time_out_with_the_log_to_read(tmp_path: Path):
    log_file = tmp_path / "logs" / "thing.log"
    with pytest.raises(FinsentError, match=r"did not answer .* within 1s; read .*thing\.log"):
        wait_http("http://127.0.0.1:9/health", 1, "thing", log_file)
    with pytest.raises(FinsentError, match=r"did not write .* within 1s; read .*thing\.log"):
        wait_for_file(tmp_path / "never", 1, "thing", log_file)
