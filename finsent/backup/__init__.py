"""``finsent backup DIR`` and ``finsent restore DIR``: the database, the MLflow store, the data folder.

A backup is a folder (0700, every file 0600), written beside its final name and renamed into place
once complete, so a folder named DIR is always a whole backup:

- ``manifest.json``: when and from what (the database URL masked, its server version, the migrations
  applied, row counts of the main tables), the MLflow store, and each file's size and sha256;
- ``finsent.dump``: ``pg_dump -Fc`` of the finsent database (:mod:`finsent.backup.database`);
- ``mlflow/``: the local MLflow store (its database and artifacts), when it is local;
- ``data.tar``: the data folder (snapshots, models, quarantine, ...; :mod:`finsent.backup.stores`).

A restore checks every file against the manifest, refuses a target that holds data (rows in the
database, snapshots or models in the data folder, runs in the MLflow store) unless ``force``, and
refuses while a local stack runs on the data folder. The database is emptied and restored, then
analysed; Airflow's own metadata database is not part of it (``pg_dump -d airflow``, docs/operations.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from finsent.backup.database import dump_database, has_data, restore_database, row_counts
from finsent.backup.stores import (
    DATA_TAR,
    backup_mlflow,
    data_folder_content,
    restore_data_folder,
    restore_mlflow,
    tar_data_folder,
)
from finsent.config import Settings
from finsent.db import applied_versions, database_url, engine_for_url
from finsent.errors import ConfigError, FinsentError
from finsent.logs.redact import mask_urls
from finsent.names import private_dir

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
DUMP = "finsent.dump"
FORMAT = 1


@dataclass
class BackupReport:
    folder: Path
    rows: dict[str, int]
    mlflow: str  # "local" or where the store is (not in the backup)
    files: int  # data folder files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _local_mlflow_store(settings: Settings) -> Path | None:
    """finsent's own MLflow store folder when it holds a store (the CLI's, or the local stack server's)."""
    store = settings.data_dir / "mlflow"
    return store if (store / "mlflow.db").is_file() else None


def _staging(folder: Path) -> Path:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(f"{folder} exists and is not empty; a backup goes into a new folder")
    private_dir(folder.parent)
    return private_dir(folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.partial")


def backup(settings: Settings, folder: Path) -> BackupReport:
    """Write a backup of ``settings``' database, MLflow store and data folder to ``folder`` (new)."""
    folder = folder.expanduser().resolve()
    staging = _staging(folder)
    try:
        url = database_url(settings)
        engine = engine_for_url(url)
        try:
            log.info("backup: the database (%s)", mask_urls(url))
            database = dump_database(engine, url, staging / DUMP)
            rows, migrations = row_counts(engine), [name for _, name in applied_versions(engine)]
        finally:
            engine.dispose()
        store = _local_mlflow_store(settings)
        from finsent.ml.registry import tracking_uri  # light: mlflow itself is imported only to use it

        mlflow = {"kind": "external", "tracking_uri": mask_urls(tracking_uri(settings))}
        if store is not None:
            log.info("backup: the MLflow store in %s", store)
            mlflow = backup_mlflow(store, private_dir(staging / "mlflow"))
        log.info("backup: the data folder %s", settings.data_dir)
        files = tar_data_folder(settings.data_dir, staging / DATA_TAR, skip=folder) if settings.data_dir.is_dir() else 0
        _write_manifest(staging, settings, database, rows, migrations, mlflow)
        if folder.exists():
            folder.rmdir()
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("backup written to %s: %s; MLflow store %s; %d data files", folder,
             ", ".join(f"{t} {n}" for t, n in rows.items() if n), mlflow["kind"], files)
    return BackupReport(folder, rows, mlflow["kind"], files)


def _write_manifest(staging: Path, settings: Settings, database: dict, rows: dict, migrations: list,
                    mlflow: dict) -> None:
    files = {p.relative_to(staging).as_posix(): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
             for p in sorted(staging.rglob("*")) if p.is_file()}
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "data_dir": str(settings.data_dir), "database": {**database, "rows": rows, "migrations": migrations},
                "mlflow": mlflow, "files": files}
    path = staging / MANIFEST
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(manifest, out, indent=2, ensure_ascii=False)
    for p in staging.rglob("*"):
        p.chmod(0o700 if p.is_dir() else 0o600)


def read_manifest(folder: Path) -> dict:
    """The manifest of a backup, every file checked against its size and sha256."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{folder} is not a finsent backup (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise ConfigError(f"{path}: backup format {manifest.get('format')!r}; this finsent reads {FORMAT}")
    for name, expected in manifest["files"].items():
        file = folder / name
        if not file.is_file() or file.stat().st_size != expected["bytes"] or _sha256(file) != expected["sha256"]:
            raise ConfigError(f"{folder}: {name} is missing or differs from the manifest; the backup is damaged")
    return manifest


def _running_stack(data_dir: Path) -> list[str]:
    """The processes a local stack runs on ``data_dir`` (its pid files whose process lives)."""
    alive = []
    for pid_file in sorted((data_dir / "run").glob("*.pid")):
        try:
            os.kill(int(pid_file.read_text().strip()), 0)
            alive.append(pid_file.stem)
        except (ValueError, OSError):
            continue
    return alive


def _refusals(settings: Settings, engine, manifest: dict) -> list[str]:
    """What in the target a restore would replace (empty: nothing)."""
    found = []
    tables = has_data(engine)
    if tables:
        found.append(f"the database holds data ({', '.join(tables)})")
    content = [n for n in data_folder_content(settings.data_dir) if n != "mlflow"]
    if content:
        found.append(f"the data folder {settings.data_dir} holds {', '.join(content)}")
    if manifest["mlflow"]["kind"] == "local" and (settings.data_dir / "mlflow" / "mlflow.db").exists():
        found.append(f"an MLflow store exists in {settings.data_dir / 'mlflow'}")
    return found


def restore(settings: Settings, folder: Path, *, force: bool = False) -> dict[str, int]:
    """Restore the backup in ``folder`` into ``settings``' database, MLflow store and data folder;
    returns the database's row counts after it (equal to the manifest's: checked)."""
    folder = folder.expanduser().resolve()
    manifest = read_manifest(folder)
    running = _running_stack(settings.data_dir)
    if running:
        raise ConfigError(f"a local stack runs on {settings.data_dir} ({', '.join(running)}): stop it first "
                          "(`finsent stack down`)")
    url = database_url(settings)
    engine = engine_for_url(url)
    try:
        refusals = _refusals(settings, engine, manifest)
        if refusals and not force:
            raise ConfigError("refusing to restore over existing data: " + "; ".join(refusals)
                              + " (pass --force to replace it)")
        log.info("restore: the database (%s) from %s", mask_urls(url), folder / DUMP)
        restore_database(engine, url, folder / DUMP, manifest["database"]["tool_major"])
        rows = row_counts(engine)
    finally:
        engine.dispose()
    expected = manifest["database"]["rows"]
    if {t: rows.get(t) for t in expected} != expected:
        raise FinsentError(f"the restored database differs from the backup's counts: {rows} vs {expected}")
    if manifest["mlflow"]["kind"] == "local":
        log.info("restore: the MLflow store into %s", settings.data_dir / "mlflow")
        restore_mlflow(folder / "mlflow", settings.data_dir / "mlflow", manifest["mlflow"]["artifacts_uri"])
    else:
        log.warning("the backup holds no MLflow store (it was %s): restore that store with its own tools",
                    manifest["mlflow"].get("tracking_uri"))
    if (folder / DATA_TAR).is_file():
        private_dir(settings.data_dir)
        restore_data_folder(folder / DATA_TAR, settings.data_dir)
    log.info("restored %s into %s: %s", folder, settings.data_dir, ", ".join(f"{t} {n}" for t, n in rows.items()))
    return rows
