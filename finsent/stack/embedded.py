"""Who owns the embedded Postgres's life (with no ``FINSENT_DATABASE_URL``): one owner at a time.

- ``finsent stack up`` (and ``demo``) claims it (``run/postgres.owner`` says ``stack``) and owns it
  until ``finsent stack down`` stops it. A claim whose stack has no live process left (a reboot, a
  killed stack) is stale and counts for nothing.
- ``finsent db start`` (and ``finsent db url``, whose URL must keep answering) hands it to the user
  (``user``) until ``finsent db stop``.
- Otherwise each CLI command is a user of it for its run (a shared ``flock`` on
  ``run/postgres.lock``); when the command ends, the last user out stops the server if a CLI
  command started it (this one, or one still running when this one began). A server that was
  already running when the first command came (started by a library call, a notebook) is left as
  it was found.

So a CLI command leaves no server behind, and none is stopped under a stack or another command.
Starting takes a moment (about a second) on every command that finds it stopped.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from finsent.config import Settings
from finsent.names import private_folder, write_private

log = logging.getLogger(__name__)

LOCK_FILE = "postgres.lock"  # under FINSENT_DATA_DIR/run: a shared flock per CLI command using the server
OWNER_FILE = "postgres.owner"  # "stack", "user" (finsent db start) or "cli" (a CLI command started it)
KEEPERS = ("stack", "user")  # owners that keep it running after a command ends


def _run_dir(settings: Settings) -> Path:
    return settings.data_dir / "run"


def _running(settings: Settings) -> bool:
    return (settings.embedded_pgdata / "postmaster.pid").exists()


def owner(settings: Settings) -> str | None:
    """Who owns the server now: "stack" (with a live stack process), "cli", or None."""
    path = _run_dir(settings) / OWNER_FILE
    claimed = path.read_text().strip() if path.is_file() else None
    if claimed == "stack" and not _stack_alive(_run_dir(settings)):
        log.info("the stack that claimed the embedded Postgres is gone; its claim no longer holds")
        return None
    return claimed


def _stack_alive(run_dir: Path) -> bool:
    import psutil

    for pid_file in run_dir.glob("*.pid"):
        try:
            if psutil.Process(int(pid_file.read_text())).status() != psutil.STATUS_ZOMBIE:
                return True
        except (ValueError, OSError, psutil.Error):
            continue
    return False


def claim(settings: Settings, keeper: str) -> None:
    """``keeper`` (``stack``: finsent stack up; ``user``: finsent db start) owns the server until ``release``."""
    if not settings.database_url:
        write_private(_run_dir(settings) / OWNER_FILE, f"{keeper}\n")


def release(settings: Settings) -> None:
    (_run_dir(settings) / OWNER_FILE).unlink(missing_ok=True)


@contextmanager
def command_session(settings: Settings | None) -> Iterator[None]:
    """One CLI command's use of the embedded server (nothing with a database URL or bad settings)."""
    if settings is None or settings.database_url:
        yield
        return
    run_dir = private_folder(_run_dir(settings))
    handle = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_SH)  # waits while another command stops it
        was_running = _running(settings)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            _leave(settings, handle, started_here=not was_running)
    finally:
        os.close(handle)


def _leave(settings: Settings, handle: int, *, started_here: bool) -> None:
    """The command is done: stop the server if it is the last user of a server a CLI started."""
    if not _running(settings):
        return
    who = owner(settings)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # another command uses it: the last one out decides
        if started_here and who is None:
            write_private(_run_dir(settings) / OWNER_FILE, "cli\n")
        return
    if who in KEEPERS or not (started_here or who == "cli"):
        return
    from finsent.db import stop_embedded_server

    stop_embedded_server(settings.embedded_pgdata, quiet=True)
    release(settings)
