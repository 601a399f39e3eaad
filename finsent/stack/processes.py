"""Background processes of ``finsent stack``: started once, found again by pid file, stopped with
every process they spawned, and waited for with a timeout that names the log to read."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil

from finsent.errors import FinsentError
from finsent.names import private_folder, write_private

log = logging.getLogger(__name__)


def worker_hostname() -> str:
    """Airflow's ``[core] hostname_callable`` for the stack's Celery workers: ``gpu@host`` or
    ``default@host``, so task instances say which worker ran them even when both share a host."""
    name = os.environ.get("FINSENT_WORKER_NAME")
    return f"{name}@{socket.getfqdn()}" if name else socket.getfqdn()


class Processes:
    """Named background processes with pid files under ``run_dir`` and logs under ``log_dir``."""

    def __init__(self, run_dir: Path, log_dir: Path, cwd: Path) -> None:
        self.run_dir, self.log_dir, self.cwd = run_dir, log_dir, cwd

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def pid(self, name: str) -> int | None:
        """The pid of ``name`` if it runs (a pid file whose process is gone is removed)."""
        pid_file = self.run_dir / f"{name}.pid"
        if not pid_file.exists():
            return None
        pid = int(pid_file.read_text())
        if _alive(pid):
            return pid
        pid_file.unlink(missing_ok=True)
        return None

    def running(self) -> list[str]:
        return sorted(p.stem for p in self.run_dir.glob("*.pid") if self.pid(p.stem) is not None)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> int:
        """Start ``name`` in its own session (so stop reaches its children), unless it runs.

        Its log is 0600 in a 0700 folder, and it runs with umask 077: whatever it (or a child) writes
        under FINSENT_DATA_DIR is this user's only. The umask is the child's alone, never this process's.
        """
        private_folder(self.run_dir)
        private_folder(self.log_dir)
        if (pid := self.pid(name)) is not None:
            log.info("%s already running (pid %d)", name, pid)
            return pid
        handle = os.open(self.log_file(name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "ab") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.cwd,
                                       start_new_session=True, umask=0o077)
        write_private(self.run_dir / f"{name}.pid", str(process.pid))
        log.info("started %s (pid %d), log %s", name, process.pid, self.log_file(name))
        return process.pid

    def stop(self, name: str, grace_s: float = 20) -> None:
        """SIGTERM ``name``, its process group and every descendant (task processes included),
        wait up to ``grace_s`` for all of them to exit, then SIGKILL what is left."""
        pid_file = self.run_dir / f"{name}.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text())
        family = _family(pid)
        for process in family:
            try:
                process.send_signal(signal.SIGTERM)
            except psutil.Error:
                pass
        _gone, alive = psutil.wait_procs(family, timeout=grace_s)
        for process in alive:
            log.warning("%s: pid %d did not exit after SIGTERM; killing it", name, process.pid)
            try:
                process.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=10)
        if family:
            log.info("stopped %s (pid %d and %d more)", name, pid, len(family) - 1)
        pid_file.unlink(missing_ok=True)


def _family(pid: int) -> list[psutil.Process]:
    """The process, its descendants and every member of its session (children that were reparented
    when their parent exited are still in the session ``start`` gave it)."""
    found: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(pid)
        found[pid] = root
        found.update((c.pid, c) for c in root.children(recursive=True))
    except psutil.Error:
        pass
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == pid:
                found.setdefault(process.pid, process)
        except (OSError, psutil.Error):
            continue
    return list(found.values())


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_http(url: str, timeout_s: float, what: str, log_file: Path) -> None:
    """Wait until ``url`` answers below 500; a timeout names the log to read."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                if response.status < 500:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise FinsentError(f"{what} did not answer at {url} within {timeout_s:.0f}s; read {log_file}")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if not with 200
    except OSError:
        return False


def wait_for_file(path: Path, timeout_s: float, what: str, log_file: Path) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file() and (text := path.read_text().strip()):
            return text
        time.sleep(0.5)
    raise FinsentError(f"{what} did not write {path} within {timeout_s:.0f}s; read {log_file}")
