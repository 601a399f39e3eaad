"""Migrations and the embedded server, against a real Postgres."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from finsent.db import (
    SQL_DIR,
    USERADD_PATHS,
    applied_versions,
    embedded_server_url,
    ensure_system_user,
    stop_embedded_server,
    upgrade,
)
from finsent.errors import FinsentError, MigrationError


def test_upgrade_is_idempotent_and_records_versions(engine):
    assert upgrade(engine) == []  # the template already applied everything
    versions = applied_versions(engine)
    assert [v for v, _ in versions] == sorted(v for v, _ in versions) and versions[0][0] == 1
    with engine.connect() as conn:
        tables = {r[0] for r in conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))}
    assert {"tickers", "posts", "prices", "crawl_runs", "crawl_watermarks", "schema_migrations"} <= tables


def test_upgrade_refuses_a_changed_migration(engine, tmp_path: Path):
    changed = tmp_path / "sql"
    shutil.copytree(SQL_DIR, changed)
    first = sorted(changed.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(MigrationError, match="different checksum"):
        upgrade(engine, changed)


def test_upgrade_applies_a_new_migration_once(engine, tmp_path: Path):
    extended = tmp_path / "sql"
    shutil.copytree(SQL_DIR, extended)
    (extended / "9999_probe.sql").write_text("CREATE TABLE probe (x int);")
    assert upgrade(engine, extended) == ["9999_probe.sql"]
    assert upgrade(engine, extended) == []


def test_badly_named_migration_is_refused(engine, tmp_path: Path):
    broken = tmp_path / "sql"
    shutil.copytree(SQL_DIR, broken)
    (broken / "002-oops.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_snake_case"):
        upgrade(engine, broken)


def test_embedded_server_starts_for_each_command_and_keeps_its_data(tmp_path: Path):
    """No FINSENT_DATABASE_URL: each CLI command starts the embedded Postgres under FINSENT_DATA_DIR and
    stops it again when it ends (finsent.stack.embedded); the data stay for the next command."""
    env = {"FINSENT_DATA_DIR": str(tmp_path / "fs"), "FINSENT_ENV_FILE": str(tmp_path / "none"),
           "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-m", "finsent.cli"]
    try:
        first = subprocess.run([*cli, "db", "upgrade"], env=env, check=False, capture_output=True, text=True,
                               timeout=120)
        assert first.returncode == 0, first.stderr
        assert not (tmp_path / "fs" / "postgres" / "postmaster.pid").exists()  # stopped with the command
        second = subprocess.run([*cli, "tickers", "list"], env=env, check=False, capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 0, second.stderr
        assert "005930  삼성전자" in second.stdout and len(second.stdout.splitlines()) == 20
        assert (tmp_path / "fs" / "postgres" / "PG_VERSION").is_file()
        assert not (tmp_path / "fs" / "postgres" / "postmaster.pid").exists()
    finally:
        stop_embedded_server(tmp_path / "fs" / "postgres")


def test_embedded_url_creates_the_database(tmp_path: Path):
    url = embedded_server_url(tmp_path / "pg", database="finsent_probe")
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "finsent_probe"
        engine.dispose()
    finally:
        assert stop_embedded_server(tmp_path / "pg")
    assert not (tmp_path / "pg" / "postmaster.pid").exists()


def test_stopping_an_embedded_server_that_died_is_not_an_error(tmp_path: Path):
    """A postmaster killed outright leaves its postmaster.pid: `stack down` must still finish (it
    raised pg_ctl's CalledProcessError before)."""
    import os
    import signal

    import psutil

    embedded_server_url(tmp_path / "pg", database="finsent_probe")
    pid = int((tmp_path / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])
    children = psutil.Process(pid).children(recursive=True)
    os.kill(pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(pid)], timeout=30)
    for child in children:  # the backends go with their postmaster
        if child.is_running():
            child.kill()
    assert (tmp_path / "pg" / "postmaster.pid").exists()
    assert stop_embedded_server(tmp_path / "pg") is False


def _absent_user() -> str:
    name = f"fsprobe{uuid.uuid4().hex[:8]}"
    with pytest.raises(KeyError):
        pwd.getpwnam(name)
    return name


@pytest.mark.skipif(os.geteuid() != 0, reason="the embedded server needs a system user only when run as root")
def test_an_absent_system_user_is_created_whatever_path_holds():
    """As root with PATH=/usr/bin:/bin (no useradd on it), the user the server runs as is created anyway."""
    name = _absent_user()  # a user that does not exist: nothing on this machine is removed to get one
    code = f"from finsent.db import ensure_system_user; ensure_system_user({name!r})"
    try:
        result = subprocess.run([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"}, check=False,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        entry = pwd.getpwnam(name)
        assert entry.pw_uid != 0 and entry.pw_shell.endswith("nologin")
    finally:  # take away only the user this test created
        userdel = next(p.replace("useradd", "userdel") for p in USERADD_PATHS if os.path.exists(p))
        subprocess.run([userdel, name], check=False, capture_output=True, timeout=60)


def test_a_system_user_that_cannot_be_created_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FinsentError, match=r"no useradd found.*FINSENT_DATABASE_URL"):
        ensure_system_user(_absent_user(), useradd_paths=(str(tmp_path / "useradd"),))
