"""The data room's commands (finsent.data.cli): their flags come from the specs and the source record."""

from __future__ import annotations

import pytest

from finsent.cli import build_parser
from finsent.data.cli import cmd_dataset_build, cmd_label, cmd_reconcile
from finsent.data.reconcile import ReconcileReport
from finsent.data.sources import EVERY_SOURCE, SOURCE_NAMES
from finsent.specs import DEFAULT_DEFINITION


def test_dataset_build_offers_every_source_and_the_declared_defaults(capsys):
    parser = build_parser()
    args = parser.parse_args(["dataset", "build", "snap"])
    assert args.func is cmd_dataset_build and args.source == SOURCE_NAMES[0] == "board"
    assert args.definition == DEFAULT_DEFINITION
    for source in (*SOURCE_NAMES, EVERY_SOURCE):
        assert parser.parse_args(["dataset", "build", "snap", "--source", source]).source == source
    with pytest.raises(SystemExit) as refused:
        parser.parse_args(["dataset", "build", "snap", "--source", "replies"])
    assert refused.value.code == 2 and "invalid choice: 'replies'" in capsys.readouterr().err
    assert parser.parse_args(["label", "--rule", "same_day"]).func is cmd_label


def test_reconcile_says_what_it_would_do():
    args = build_parser().parse_args(["reconcile", "--dry-run"])
    assert args.func is cmd_reconcile and args.dry_run
    report = ReconcileReport(dry_run=True, orphans={"labels": 2, "post_scores": 0}, edited={"news": 1})
    lines = report.lines()
    assert lines[0] == "would drop, of texts that are gone: labels 2"
    assert lines[1] == "would redo, of texts edited by hand: news 1 (scores, quality flags)"
    assert not any(line.startswith("done:") for line in lines)
