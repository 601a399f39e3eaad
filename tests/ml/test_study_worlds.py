"""The study finds each planted world's signal where it was planted, and nowhere else."""

from __future__ import annotations

import pytest

from finsent.config import load_settings
from finsent.errors import ConfigError
from finsent.ml.study import StudySpec, run_study
from finsent.ml.study.report import to_text
from tests.ml.worlds import walked, world


def _signals(report: dict) -> set[tuple[str, str, int]]:
    return {(c["signal"], c["target"], c["horizon"]) for c in report["grid"] if c["verdict"] == "signal"}


def test_a_drift_after_the_next_session_is_found_at_its_horizon_only(engine):
    fake = world(seed=11)
    fake.plant_drift(horizon=5)
    backtest = walked(engine, fake, "drift", horizon=5)
    report = run_study(load_settings(), engine, "drift", backtest, StudySpec(), log_to_mlflow=False).report
    print(to_text(report))
    assert _signals(report) == {("text", "return", 5)}, to_text(report)


def test_a_crowd_before_big_moves_is_found_in_the_size_of_the_move_only(engine):
    fake = world(seed=12)
    assert fake.plant_crowd() > 0
    backtest = walked(engine, fake, "crowd")
    report = run_study(load_settings(), engine, "crowd", backtest, StudySpec(), log_to_mlflow=False).report
    found = _signals(report)
    assert ("attention", "abs_return", 1) in found, to_text(report)
    assert all(s == "attention" and t == "abs_return" for s, t, _ in found), to_text(report)


def test_a_world_without_signal_gives_no_signal_anywhere(engine):
    backtest = walked(engine, world(seed=13), "quiet")
    report = run_study(load_settings(), engine, "quiet", backtest, StudySpec(), log_to_mlflow=False).report
    assert {c["verdict"] for c in report["grid"]} <= {"no signal", "too few sessions"}, to_text(report)
    assert any(c["verdict"] == "no signal" for c in report["grid"])
    # no comment was crawled: engagement is left out of the default grid, and asking for it is refused
    assert "engagement" not in {c["signal"] for c in report["grid"]}
    with pytest.raises(ConfigError, match="engagement needs the board's comments"):
        run_study(load_settings(), engine, "quiet-engagement", backtest, StudySpec(signals=("engagement",)),
                  log_to_mlflow=False)
