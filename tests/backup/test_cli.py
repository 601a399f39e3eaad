"""The backup room's commands (finsent.backup.cli): `finsent backup DIR` and `finsent restore DIR`."""

from __future__ import annotations

from finsent.backup.cli import cmd_backup, cmd_restore
from finsent.cli import build_parser


def test_backup_and_restore_run_their_functions():
    parser = build_parser()
    assert parser.parse_args(["backup", "/tmp/finsent-backup"]).func is cmd_backup
    assert parser.parse_args(["restore", "/tmp/finsent-backup"]).func is cmd_restore
