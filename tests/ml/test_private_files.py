"""Everything finsent and its MLflow write under FINSENT_DATA_DIR is 0600 in 0700 folders, also with
umask 022 in a data folder that already existed (with an MLflow folder an older finsent made 0755)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from finsent.cli import main
from finsent.config import load_settings
from finsent.names import write_private


def _readable_by_others(folder: Path) -> list[str]:
    """Paths under ``folder`` (not ``folder`` itself, which the user made) with any group or other bit."""
    found = []
    for path in folder.rglob("*"):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            found.append(f"{oct(mode)} {path.relative_to(folder)}")
    return sorted(found)


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def existing_data_dir(database_url, umask_022) -> Path:
    data = load_settings().data_dir
    (data / "mlflow").mkdir(parents=True, mode=0o755)
    os.chmod(data, 0o755)
    os.chmod(data / "mlflow", 0o755)
    return data


def test_train_evaluate_score_write_only_private_files(existing_data_dir, planted, caplog):
    assert main(["train", "--dataset", planted]) == 0, caplog.text
    assert main(["evaluate", "--dataset", planted]) == 0, caplog.text
    assert main(["score"]) == 0, caplog.text
    mlflow_dir = existing_data_dir / "mlflow"
    assert (mlflow_dir / "mlflow.db").is_file()
    models = list(mlflow_dir.rglob("pipeline.joblib"))
    reports = list(mlflow_dir.rglob("report.md"))
    assert models and len(reports) == 2  # the train run's and the evaluate run's
    assert _readable_by_others(existing_data_dir) == []
    assert stat.S_IMODE(existing_data_dir.stat().st_mode) == 0o755  # the user's folder is left as it was


def test_a_data_folder_finsent_makes_is_private_and_so_is_what_a_crawl_writes(database_url, naver, umask_022):
    """Issue 32 #9: the robots cache and the quarantine, in a data folder the crawl itself creates."""
    data = load_settings().data_dir
    naver.inject("/front-api/discussion/list", "malformed")  # a quarantined page
    assert main(["crawl", "--tickers", "005930", "--since", "2000-01-01"]) == 1
    assert list((data / "cache" / "robots").glob("*.json")) and list((data / "quarantine").glob("*.raw"))
    assert _readable_by_others(data) == [] and stat.S_IMODE(data.stat().st_mode) == 0o700


def test_with_an_mlflow_store_elsewhere_crawl_train_and_backtest_leave_nothing_readable(
        existing_data_dir, tmp_path, engine, naver, monkeypatch, caplog):
    """Issue 32 #9: with an external MLflow store, the artifacts MLflow keeps under the data folder
    (models, reports, plots), in a data folder the user made 0755, after a crawl, a training and a backtest."""
    from finsent.data.build import build_dataset
    from tests.ml.board import VERDICT_SPEC, make_board

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}")
    assert main(["crawl", "--tickers", "005930", "--since", "2000-01-01"]) == 0, caplog.text
    make_board(engine, planted=True, sessions=40)
    build_dataset(engine, "planted", VERDICT_SPEC, existing_data_dir)
    assert main(["train", "--dataset", "planted"]) == 0, caplog.text
    assert main(["backtest", "walk", "--train-sessions", "20", "--step-sessions", "10"]) == 0, caplog.text
    assert list(existing_data_dir.rglob("pipeline.joblib")) and list(existing_data_dir.rglob("*.png"))
    assert not (existing_data_dir / "mlflow" / "mlflow.db").exists()  # the store is elsewhere: its artifacts here
    assert _readable_by_others(existing_data_dir) == []


def test_write_private_fixes_an_older_readable_file(tmp_path: Path, umask_022):
    target = tmp_path / "run" / "stack.env"
    target.parent.mkdir(mode=0o755)
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and stat.S_IMODE(target.parent.stat().st_mode) == 0o700
