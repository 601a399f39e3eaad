"""The files in a backup: finsent's local MLflow store and the data folder.

The MLflow store is backed up when it is local (``FINSENT_DATA_DIR/mlflow``: the CLI's sqlite store,
or the one the local stack's MLflow server uses): ``mlflow.db`` through sqlite's online backup (a
consistent copy while a server writes) and the artifacts as a tar. A store elsewhere (compose's
Postgres, a remote server) is named in the manifest and left to its own backup. The data folder goes
as a tar, without what is backed up otherwise or is a running stack's state (``postgres/``,
``mlflow/``, ``logs/``, ``run/`` but its ``secrets.json``, Airflow's task logs).

A restore onto another data folder moves the artifact locations the MLflow store records (absolute
``file://`` URIs under the old folder) to the new one, so the champion loads from there.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tarfile
from collections.abc import Iterator
from pathlib import Path

from finsent.errors import FinsentError
from finsent.names import private_files

log = logging.getLogger(__name__)

DATA_TAR = "data.tar"
MLFLOW_DB = "mlflow.db"
ARTIFACTS_TAR = "mlflow-artifacts.tar"
_NOT_IN_DATA = ("postgres", "mlflow", "logs", "run", "airflow/logs")
_KEPT_FROM_RUN = ("run/secrets.json",)
# (table, column) of an MLflow store that hold artifact locations
_ARTIFACT_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"), ("model_versions", "source"),
                     ("model_versions", "storage_location"), ("logged_models", "artifact_location"))


def _data_members(data_dir: Path, skip: Path | None) -> Iterator[Path]:
    """The files and folders of the data folder that go in its tar, top-down."""
    for path in sorted(data_dir.rglob("*")):
        relative = path.relative_to(data_dir).as_posix()
        if relative in _KEPT_FROM_RUN:
            yield path
            continue
        if any(relative == n or relative.startswith(n + "/") for n in _NOT_IN_DATA):
            continue
        if skip is not None and (path == skip or skip in path.parents):
            continue
        if path.is_file() or path.is_dir():
            yield path


def tar_data_folder(data_dir: Path, target: Path, skip: Path | None = None) -> int:
    """The data folder (see the module doc) into ``target``; returns the files written."""
    files = 0
    with tarfile.open(target, "w") as tar:
        for path in _data_members(data_dir, skip):
            tar.add(path, arcname=path.relative_to(data_dir).as_posix(), recursive=False)
            files += path.is_file()
            if files and files % 1000 == 0 and path.is_file():
                log.info("data folder: %d files", files)
    return files


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a sqlite database (its online backup), created 0600."""
    target.touch(mode=0o600)
    target.chmod(0o600)
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def backup_mlflow(store: Path, folder: Path) -> dict:
    """The local store ``store`` (FINSENT_DATA_DIR/mlflow) into ``folder``: what the manifest records."""
    _copy_sqlite(store / MLFLOW_DB, folder / MLFLOW_DB)
    artifacts = store / "artifacts"
    with tarfile.open(folder / ARTIFACTS_TAR, "w") as tar:
        if artifacts.is_dir():
            tar.add(artifacts, arcname=".")
    return {"kind": "local", "files": [MLFLOW_DB, ARTIFACTS_TAR], "artifacts_uri": artifacts.resolve().as_uri()}


def _extract(archive: Path, into: Path) -> None:
    """Extract a tar of ours into ``into``, refusing links and paths that leave it."""
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            target = (into / member.name).resolve()
            if not (member.isfile() or member.isdir()) or (target != into.resolve()
                                                            and into.resolve() not in target.parents):
                raise FinsentError(f"{archive.name}: {member.name!r} is not a plain file inside the folder; refused")
        tar.extractall(into, filter="data")


def restore_mlflow(folder: Path, store: Path, old_artifacts_uri: str) -> None:
    """The store of a backup into ``store`` (replacing what is there), its artifact locations moved
    from ``old_artifacts_uri`` to ``store/artifacts``."""
    store.mkdir(parents=True, exist_ok=True, mode=0o700)
    staged = store / f".{MLFLOW_DB}.restoring"
    _copy_sqlite(folder / MLFLOW_DB, staged)
    new_uri = (store / "artifacts").resolve().as_uri()
    if old_artifacts_uri and old_artifacts_uri != new_uri:
        with sqlite3.connect(staged) as db:
            for table, column in _ARTIFACT_COLUMNS:
                if column in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"UPDATE {table} SET {column} = ? || substr({column}, ?) WHERE {column} LIKE ? || '%'",
                               (new_uri, len(old_artifacts_uri) + 1, old_artifacts_uri))
        db.close()
    for journal in ("-wal", "-shm", "-journal"):
        (store / f"{MLFLOW_DB}{journal}").unlink(missing_ok=True)
    os.replace(staged, store / MLFLOW_DB)
    (store / "artifacts").mkdir(exist_ok=True)
    _extract(folder / ARTIFACTS_TAR, store / "artifacts")
    private_files(store)


def restore_data_folder(archive: Path, data_dir: Path) -> None:
    _extract(archive, data_dir)
    for path in [p for p in data_dir.iterdir() if p.name not in ("postgres",)]:
        if path.is_dir():
            private_files(path)
        else:
            path.chmod(0o600)


def data_folder_content(data_dir: Path) -> list[str]:
    """What a restore would replace in the data folder: its folders and files outside the embedded
    server and a running stack's state."""
    if not data_dir.is_dir():
        return []
    return sorted(p.name for p in data_dir.iterdir()
                  if p.name not in ("postgres", "run", "logs") and (p.is_file() or any(p.iterdir())))
