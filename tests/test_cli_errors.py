"""Bad input and a missing schema are exit 2 with one clear line, for every command, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from finsent.cli import main
from finsent.db import stop_embedded_server


@pytest.mark.parametrize("url, message", [
    ("notaurl", "is not a database URL"),
    ("postgresql://u@127.0.0.1:notaport/x", "is not a database URL"),
    ("mysql://user:secret@127.0.0.1/db", "names a 'mysql' database"),
    ("sqlite:///finsent.db", "names a 'sqlite' database"),
    ("postgresql+asyncpg://user:secret@127.0.0.1/db", "through psycopg2"),
])
def test_a_bad_database_url_is_exit_2_and_does_not_echo_it(url, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"FINSENT_DATABASE_URL": url, "FINSENT_DATA_DIR": str(tmp_path / "data"),
           "FINSENT_ENV_FILE": str(tmp_path / "none"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "finsent.cli", "tickers", "list"], env=env, cwd=tmp_path,
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "FINSENT_DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr and "secret" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no sqlite file, no data folder


@pytest.mark.parametrize("code", ["ABC123\n", "ABC12\n", "abc123", " ABC123"])
def test_a_ticker_code_with_a_trailing_newline_is_refused(engine, code, caplog):
    assert main(["tickers", "add", code, "x"]) == 2
    assert "is not six digits/capitals" in caplog.text
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tickers WHERE code LIKE 'ABC%' "
                                    "OR code LIKE '%abc%'")).scalar() == 0


@pytest.fixture
def empty_database(pg_admin_url, monkeypatch, tmp_path):
    """A database with no tables at all; FINSENT_* point at it."""
    name = f"finsent_empty_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    monkeypatch.setenv("FINSENT_DATABASE_URL", sa.engine.make_url(pg_admin_url).set(database=name)
                       .render_as_string(hide_password=False))
    monkeypatch.setenv("FINSENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FINSENT_ENV_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


COMMANDS = [["tickers", "list"], ["tickers", "add", "123456", "x"], ["dataset", "list"], ["dataset", "show", "x"],
            ["dataset", "build", "x"], ["label"], ["quality", "check"], ["quality", "report"], ["score"],
            ["evaluate", "--dataset", "x"], ["train", "--dataset", "x"], ["backtest", "b"], ["crawl"], ["prices"],
            ["import", "posts", "posts.csv"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_on_a_database_without_tables_says_run_db_upgrade(empty_database, command, caplog, tmp_path,
                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "posts.csv").write_text("ticker,post_id,posted_at,title\n")
    assert main(command) == 2
    assert "run `finsent db upgrade`" in caplog.text and "reachable" not in caplog.text


def test_a_schema_missing_a_migration_says_run_db_upgrade(engine, caplog):
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM schema_migrations WHERE version = (SELECT max(version) "
                             "FROM schema_migrations)"))
    assert main(["dataset", "list"]) == 2
    assert "lacks 1 migration(s)" in caplog.text and "run `finsent db upgrade`" in caplog.text


def test_an_undefined_table_is_exit_2_wherever_it_surfaces(engine, caplog):
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE datasets RENAME TO datasets_gone"))
    assert main(["dataset", "list"]) == 2
    assert 'relation "datasets" does not exist' in caplog.text and "run `finsent db upgrade`" in caplog.text


def test_no_schema_on_the_embedded_server_leaves_no_server_running(tmp_path: Path):
    """A fresh data folder: the command says what to do and stops the server it started for nothing."""
    env = {"FINSENT_DATA_DIR": str(tmp_path / "fs"), "FINSENT_ENV_FILE": str(tmp_path / "none"),
           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    try:
        done = subprocess.run([sys.executable, "-m", "finsent.cli", "dataset", "list"], env=env, check=False,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 2, done.stderr
        assert "run `finsent db upgrade`" in done.stderr and "Traceback" not in done.stderr
        assert (tmp_path / "fs" / "postgres" / "PG_VERSION").is_file()
        assert not (tmp_path / "fs" / "postgres" / "postmaster.pid").exists()
    finally:
        stop_embedded_server(tmp_path / "fs" / "postgres")


@pytest.fixture
def unreachable(pg_admin_url, monkeypatch, tmp_path):
    """FINSENT_* pointing at the test server's host with what the test says changed."""
    monkeypatch.setenv("FINSENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FINSENT_ENV_FILE", str(tmp_path / "none"))

    def point_at(**changes) -> None:
        monkeypatch.setenv("FINSENT_DATABASE_URL", sa.engine.make_url(pg_admin_url).set(**changes)
                           .render_as_string(hide_password=False))
    return point_at


@pytest.mark.parametrize("changes, message", [
    ({"host": "127.0.0.1", "port": 1}, "cannot connect to the database"),  # nothing listens there
    ({"port": 70000}, "port 70000: a TCP port is 1 to 65535"),
    ({"database": "finsent_no_such_database"}, 'database "finsent_no_such_database" does not exist'),
], ids=["closed port", "port out of range", "missing database"])
def test_a_database_that_cannot_be_reached_is_exit_2_with_one_line(unreachable, changes, message, caplog):
    unreachable(**changes)
    for command in (["tickers", "list"], ["db", "upgrade"], ["db", "status"], ["crawl", "--tickers", "005930"]):
        assert main(command) == 2
        assert message in caplog.text and "Traceback" not in caplog.text
        caplog.clear()


def test_a_ticker_needs_a_name(engine, caplog):
    for name in ("", "   "):
        assert main(["tickers", "add", "123456", name]) == 2
    assert "the name is empty" in caplog.text
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tickers WHERE code = '123456'")).scalar() == 0


def test_a_version_or_alias_that_points_nowhere_is_exit_2_with_what_there_is(engine, caplog):
    """Like ``evaluate --model-version 7`` (tests/ml/test_promotion_flow.py), a score with nothing to load."""
    for command in (["score", "--alias", "9"], ["score", "--alias", "nightly"], ["score"]):
        caplog.clear()
        assert main(command) == 2, (command, caplog.text)
        assert "in the registry" in caplog.text and "`finsent train`" in caplog.text
        assert "Traceback" not in caplog.text
    assert "finsent-updown has no version yet" in caplog.text or "no version 'champion'" in caplog.text


def test_a_model_folder_that_cannot_be_written_is_exit_2_without_a_traceback(tmp_path, caplog):
    assert main(["model", "make-tiny", "/proc/finsent-cannot-write-here"]) == 2
    assert "cannot write the tiny model to /proc/finsent-cannot-write-here" in caplog.text
    assert "Traceback" not in caplog.text
