"""``finsent train`` and ``finsent evaluate``: the whole model step.

train: read the frozen snapshot (its hash checked), fit on train, make every choice on valid
(regularisation or early stopping, then the calibration of P(up)), score the test part once,
evaluate it against the baselines with session-clustered statistics, log everything to one MLflow
run, load the champion's predictions for the comparison, and only then register a new
``finsent-updown`` version (alias ``challenger``, and ``champion`` when it wins fairly: see
``finsent.ml.promotion``). evaluate: the same report for any registered version on any snapshot.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.data.snapshots import Snapshot, load_snapshot
from finsent.errors import FinsentError
from finsent.ml.calibration import fit_platt
from finsent.ml.evaluate import EvaluationReport, evaluate_predictions
from finsent.ml.models.base import encode_labels
from finsent.ml.models.baseline import BaselineClassifier
from finsent.ml.models.calibrated import CalibratedClassifier
from finsent.ml.models.lora import LoraClassifier, LoraSpec, distributed_rank
from finsent.ml.promotion import ChampionDecision, TrainingRecord, decide, record_from_rows
from finsent.ml.registry import MODEL_NAME, champion_inputs, configure, log_pyfunc, private_run, register_version

log = logging.getLogger(__name__)


@dataclass
class TrainOutcome:
    run_id: str
    experiment_id: str
    version: int
    decision: ChampionDecision
    report: EvaluationReport


def _baselines(train: pd.DataFrame, test: pd.DataFrame, fitted_baseline: np.ndarray | None) -> dict[str, np.ndarray]:
    # (the majority baseline is evaluate_predictions' own, from the training up share)
    baselines = {"previous_session": test["previous_session_up"].to_numpy()}
    if fitted_baseline is None:
        model = BaselineClassifier()
        model.fit(train["title"].tolist(), encode_labels(train["label"]))
        fitted_baseline = model.predict_proba(test["title"].tolist())
    baselines["baseline"] = fitted_baseline
    return baselines


def _log_report(report: EvaluationReport) -> None:
    """Metrics, plots and the report of one evaluation, into the active MLflow run."""
    import mlflow

    mlflow.log_metrics(report.flat_metrics())
    for plot in report.plots:
        mlflow.log_artifact(str(plot), "plots")
    mlflow.log_text(report.to_markdown(), "evaluation/report.md")
    mlflow.log_text(report.to_json(), "evaluation/report.json")


def _parts(snapshot: Snapshot) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    train, valid, test = (snapshot.part(s) for s in ("train", "valid", "test"))
    if train.empty or test.empty or train["label"].nunique() < 2:
        raise FinsentError(f"dataset {snapshot.name!r} needs both classes in train and a non-empty test part")
    return train, valid, test


def _fit_on_train_choose_on_valid(model, train: pd.DataFrame, valid: pd.DataFrame) -> CalibratedClassifier:
    """Fit; regularisation / early stopping and the calibration come from valid, never from test."""
    y_valid = encode_labels(valid["label"])
    has_valid = len(valid) > 0 and len(np.unique(y_valid)) == 2
    model.fit(train["title"].tolist(), encode_labels(train["label"]),
              valid=(valid["title"].tolist(), y_valid) if has_valid else None)
    calibration = fit_platt(model.predict_proba(valid["title"].tolist()), y_valid) if has_valid else None
    if calibration is None:
        log.warning("no valid part with both classes: P(up) stays uncalibrated")
    return CalibratedClassifier(model, calibration)


def train_model(settings: Settings, engine: Engine, dataset: str, kind: str, *, lora: LoraSpec | None = None,
                experiment: str = "finsent") -> TrainOutcome | None:
    """The whole step; returns None on the non-zero ranks of a multi-GPU job."""
    import mlflow

    if kind not in ("baseline", "lora"):
        raise FinsentError(f"--model must be baseline or lora, got {kind!r}")
    model = BaselineClassifier() if kind == "baseline" else LoraClassifier(lora or LoraSpec())  # checks options
    snapshot = load_snapshot(engine, dataset)
    train, valid, test = _parts(snapshot)
    if distributed_rank() != 0:  # multi-GPU: the other ranks train their share; rank 0 logs and registers
        model.fit(train["title"].tolist(), encode_labels(train["label"]))
        return None
    record = TrainingRecord.from_snapshot(engine, snapshot)
    client = configure(settings, experiment)
    with tempfile.TemporaryDirectory(prefix="finsent-train-") as scratch, \
            private_run(settings, run_name=f"train-{kind}-{dataset}") as run:
        mlflow.set_tags({"finsent.step": "train", "model": kind, **record.tags()})
        params = {"model": kind, "dataset": dataset, "dataset_hash": snapshot.content_hash,
                  "n_train": len(train), "n_valid": len(valid), "n_test": len(test)}
        params.update({k: str(v) for k, v in asdict(model.spec).items()} if kind == "lora" else model.params)
        log.info("fitting %s on %d posts of %s (%d valid)", kind, len(train), dataset, len(valid))
        calibrated = _fit_on_train_choose_on_valid(model, train, valid)
        params.update(_choices(model, calibrated))
        mlflow.log_params(params)
        p_test = calibrated.predict_proba(test["title"].tolist())  # the test part, scored once
        report = evaluate_predictions(
            kind, test, p_test, float((train["label"] == "up").mean()),
            _baselines(train, test, p_test if kind == "baseline" else None), Path(scratch) / "plots")
        _log_report(report)
        decision = decide(record, report, test, p_test, _champion(engine, client, test["title"].tolist()))
        model_dir = Path(scratch) / "model"
        calibrated.save(model_dir)
        info = log_pyfunc(model_dir)
        tags = {**record.tags(), "model": kind, "test_accuracy": f"{report.metrics['accuracy']:.4f}",
                "test_balanced_accuracy": f"{report.metrics['balanced_accuracy']:.4f}",
                "test_n_sessions": str(int(report.counts["n_sessions"])),
                "champion_decision": decision.reason, "promoted": str(decision.promoted).lower()}
        version = register_version(client, info.model_uri, tags, decision.promoted)
        mlflow.set_tags({"champion_decision": decision.reason, "model_version": str(version)})
        log.info("run %s registered %s v%d: %s (%s)", run.info.run_id, MODEL_NAME, version,
                 "champion" if decision.promoted else "challenger", decision.reason)
        return TrainOutcome(run.info.run_id, run.info.experiment_id, version, decision, report)


def _champion(engine: Engine, client, titles: list[str]):
    """The champion's version, what it learnt from and its P(up) on ``titles`` (None: no champion).
    What it learnt from is read from ``dataset_rows`` while its snapshot is unchanged, else its tags."""
    champion = champion_inputs(client, titles)
    if champion is None or champion[1] is None:
        return champion
    version, tagged, p_old = champion
    return version, record_from_rows(engine, tagged.dataset, tagged.dataset_hash) or tagged, p_old


def _choices(model, calibrated: CalibratedClassifier) -> dict[str, str]:
    """What valid decided, for the run's params."""
    chosen = {"calibration": "platt" if calibrated.calibration else "none"}
    if calibrated.calibration:
        chosen.update({"calibration_slope": f"{calibrated.calibration.slope:.4f}",
                       "calibration_intercept": f"{calibrated.calibration.intercept:.4f}"})
    if getattr(model, "best_step", None) is not None:
        chosen["best_step"] = str(model.best_step)
    if getattr(model, "valid_log_loss", None):
        chosen["c_chosen_on_valid"] = str(model.params["c"])
    return chosen


def evaluate_version(settings: Settings, engine: Engine, version_or_alias: str, dataset: str) -> EvaluationReport:
    import mlflow

    from finsent.ml.registry import load_pyfunc, predict, version_of

    snapshot = load_snapshot(engine, dataset)
    train, _, test = _parts(snapshot)
    client = configure(settings)
    version = version_of(client, version_or_alias)
    p_test = predict(load_pyfunc(version), test["title"].tolist())
    with tempfile.TemporaryDirectory(prefix="finsent-eval-") as scratch, \
            private_run(settings, run_name=f"evaluate-v{version}-{dataset}"):
        mlflow.set_tags({"finsent.step": "evaluate", "dataset": dataset, "dataset_hash": snapshot.content_hash,
                         "model_version": str(version)})
        report = evaluate_predictions(f"{MODEL_NAME} v{version}", test, p_test,
                                      float((train["label"] == "up").mean()), _baselines(train, test, None),
                                      Path(scratch) / "plots")
        _log_report(report)
    return report
