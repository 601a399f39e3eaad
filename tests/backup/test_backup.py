"""The backup and restore drill (issue 32): `finsent backup DIR`, then `finsent restore DIR` into a
fresh database and a fresh data folder gives the same rows, the same champion (which loads and
scores as before), the same snapshots; files 0600 in 0700 folders; a target with data is refused
without --force; a damaged backup is refused."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from mlflow import MlflowClient

from finsent.backup.database import COUNTED_TABLES
from finsent.cli import main
from finsent.config import load_settings
from finsent.data.snapshots import load_snapshot
from finsent.ml.registry import MODEL_NAME, load_pyfunc, predict, tracking_uri
from finsent.ml.score import score_posts
from finsent.ml.train import train_model
from tests.data.board import query

TABLES = (*COUNTED_TABLES, "daily_sentiment_state", "step_watermarks", "post_quality", "label_definitions")


def table_digests(engine) -> dict[str, str]:
    """An md5 of each table's rows in a fixed order: equal digests, equal rows."""
    digests = {}
    for table in TABLES:
        ((digest,),) = query(engine, f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                                     f"FROM {table} t" if table != "schema_migrations" else
                             "SELECT md5(string_agg(version || name || checksum, '|' ORDER BY version)) "
                             "FROM schema_migrations")
        digests[table] = digest
    return digests


@pytest.fixture
def empty_database(pg_admin_url: str, monkeypatch):
    """A database with nothing in it (createdb), as an operator makes for a restore."""
    name = f"finsent_restore_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_backup_restores_into_a_fresh_database_with_the_same_rows_and_champion(
        engine, planted, empty_database, monkeypatch, tmp_path: Path, capsys, caplog):
    settings = load_settings()
    version = train_model(settings, engine, planted, "baseline").version
    score_posts(settings, engine)
    before, titles = table_digests(engine), ["가즈아 반등 매수", "손절 하락 물린다"]
    expected_p_up = predict(load_pyfunc("champion"), titles)
    folder = tmp_path / "backups" / "nightly"
    assert main(["backup", str(folder)]) == 0
    assert "backup " in capsys.readouterr().out
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    assert main(["backup", str(folder)]) == 2  # never over an existing backup

    # a new machine: another (empty) database, another data folder
    monkeypatch.setenv("FINSENT_DATABASE_URL", empty_database)
    monkeypatch.setenv("FINSENT_DATA_DIR", str(tmp_path / "new-data"))
    assert main(["restore", str(folder)]) == 0
    restored = sa.create_engine(empty_database)
    try:
        assert table_digests(restored) == before
        assert query(restored, "SELECT reltuples > 0 FROM pg_class WHERE relname = 'labels'") == [(True,)]
        new = load_settings()
        client = MlflowClient(tracking_uri(new))
        assert int(client.get_model_version_by_alias(MODEL_NAME, "champion").version) == version
        assert predict(load_pyfunc("champion"), titles) == pytest.approx(expected_p_up)  # its artifacts moved
        assert load_snapshot(restored, planted).content_hash  # the snapshot's rows verify
        assert (new.data_dir / "datasets" / planted / "train.parquet").is_file()
        # restoring again over the data now there: refused, nothing touched, unless --force
        assert main(["restore", str(folder)]) == 2
        assert "refusing to restore over existing data: the database holds data (posts" in caplog.text
        assert main(["restore", str(folder), "--force"]) == 0
        assert table_digests(restored) == before
    finally:
        restored.dispose()


def test_a_damaged_backup_is_refused(engine, tmp_path: Path, caplog):
    folder = tmp_path / "b"
    assert main(["backup", str(folder)]) == 0
    with (folder / "finsent.dump").open("r+b") as dump:
        dump.seek(100)
        dump.write(b"\0\0\0\0")
    assert main(["restore", str(folder), "--force"]) == 2
    assert "finsent.dump is missing or differs from the manifest" in caplog.text
    assert main(["restore", str(tmp_path / "nothing")]) == 2
    assert os.listdir(tmp_path) == ["b"]  # nothing else written
