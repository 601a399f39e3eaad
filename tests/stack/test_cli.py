"""The stack room's command (finsent.stack.cli): `finsent stack up|down|demo`."""

from __future__ import annotations

import pytest

from finsent.cli import build_parser
from finsent.stack.cli import cmd_stack


def test_stack_actions(capsys):
    parser = build_parser()
    for action in ("up", "down", "demo"):
        args = parser.parse_args(["stack", action])
        assert args.func is cmd_stack
    with pytest.raises(SystemExit) as refused:
        parser.parse_args(["stack", "sideways"])
    assert refused.value.code == 2 and "sideways" in capsys.readouterr().err
