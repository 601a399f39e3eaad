"""``finsent train`` and ``finsent evaluate``: the whole model step.

train: fit on a snapshot's train part, evaluate on its test part against the baselines, log
everything to one MLflow run (params, dataset name and hash, ``test_*`` metrics, plots, the report,
the model as an offline pyfunc), register a new ``finsent-updown`` version as ``challenger``, then
apply the champion rule. evaluate: the same report for any registered version on any snapshot.
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
from finsent.data.snapshots import dataset_hash, load_split
from finsent.errors import FinsentError
from finsent.ml.evaluate import EvaluationReport, evaluate_predictions
from finsent.ml.models.base import encode_labels
from finsent.ml.models.baseline import BaselineClassifier
from finsent.ml.models.lora import LoraClassifier, LoraSpec, distributed_rank
from finsent.ml.registry import MODEL_NAME, ChampionDecision, apply_champion_rule, configure, log_pyfunc

log = logging.getLogger(__name__)


@dataclass
class TrainOutcome:
    run_id: str
    experiment_id: str
    version: int
    decision: ChampionDecision
    report: EvaluationReport


def _baselines(train: pd.DataFrame, test: pd.DataFrame, fitted_baseline: np.ndarray | None) -> dict[str, np.ndarray]:
    up_share = float((train["label"] == "up").mean())
    baselines = {"majority": np.full(len(test), 1.0 if up_share >= 0.5 else 0.0),
                 "previous_session": test["previous_session_up"].to_numpy()}
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


def _splits(engine: Engine, dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = load_split(engine, dataset, "train"), load_split(engine, dataset, "test")
    if train.empty or test.empty or train["label"].nunique() < 2:
        raise FinsentError(f"dataset {dataset!r} needs both classes in train and a non-empty test part")
    return train, test


def train_model(settings: Settings, engine: Engine, dataset: str, kind: str, *, lora: LoraSpec | None = None,
                experiment: str = "finsent") -> TrainOutcome | None:
    """The whole step; returns None on the non-zero ranks of a multi-GPU job."""
    import mlflow

    if kind not in ("baseline", "lora"):
        raise FinsentError(f"--model must be baseline or lora, got {kind!r}")
    model = BaselineClassifier() if kind == "baseline" else LoraClassifier(lora or LoraSpec())  # checks options
    train, test = _splits(engine, dataset)
    content_hash = dataset_hash(engine, dataset)
    if distributed_rank() != 0:  # multi-GPU: the other ranks train their share; rank 0 logs and registers
        model.fit(train["title"].tolist(), encode_labels(train["label"]))
        return None
    client = configure(settings, experiment)
    with tempfile.TemporaryDirectory(prefix="finsent-train-") as scratch, \
            mlflow.start_run(run_name=f"train-{kind}-{dataset}") as run:
        mlflow.set_tags({"finsent.step": "train", "dataset": dataset, "dataset_hash": content_hash, "model": kind})
        params = {"model": kind, "dataset": dataset, "dataset_hash": content_hash,
                  "n_train": len(train), "n_test": len(test)}
        if kind == "lora":
            params.update({k: str(v) for k, v in asdict(model.spec).items()})
        else:
            params.update(model.params)
        mlflow.log_params(params)
        log.info("fitting %s on %d posts of %s", kind, len(train), dataset)
        model.fit(train["title"].tolist(), encode_labels(train["label"]))
        p_test = model.predict_proba(test["title"].tolist())
        report = evaluate_predictions(
            kind, test, p_test, float((train["label"] == "up").mean()),
            _baselines(train, test, p_test if kind == "baseline" else None), Path(scratch) / "plots")
        _log_report(report)
        model_dir = Path(scratch) / "model"
        model.save(model_dir)
        info = log_pyfunc(model_dir)
        registered = mlflow.register_model(info.model_uri, MODEL_NAME)
        version = int(registered.version)
        client.set_registered_model_alias(MODEL_NAME, "challenger", str(version))
        for key, value in (("dataset", dataset), ("dataset_hash", content_hash), ("model", kind),
                           ("test_accuracy", f"{report.metrics['accuracy']:.4f}")):
            client.set_model_version_tag(MODEL_NAME, str(version), key, value)
        decision = apply_champion_rule(client, version, test["title"].tolist(),
                                       (test["label"] == "up").to_numpy().astype(np.int64), p_test)
        mlflow.set_tag("champion_decision", decision.reason)
        log.info("run %s registered %s v%d (%s)", run.info.run_id, MODEL_NAME, version,
                 "champion" if decision.promoted else "challenger")
        return TrainOutcome(run.info.run_id, run.info.experiment_id, version, decision, report)


def evaluate_version(settings: Settings, engine: Engine, version_or_alias: str, dataset: str) -> EvaluationReport:
    import mlflow

    from finsent.ml.registry import load_pyfunc, predict, version_of

    train, test = _splits(engine, dataset)
    client = configure(settings)
    version = version_of(client, version_or_alias)
    p_test = predict(load_pyfunc(version), test["title"].tolist())
    with tempfile.TemporaryDirectory(prefix="finsent-eval-") as scratch, \
            mlflow.start_run(run_name=f"evaluate-v{version}-{dataset}"):
        mlflow.set_tags({"finsent.step": "evaluate", "dataset": dataset, "dataset_hash": dataset_hash(engine, dataset),
                         "model_version": str(version)})
        report = evaluate_predictions(f"{MODEL_NAME} v{version}", test, p_test,
                                      float((train["label"] == "up").mean()), _baselines(train, test, None),
                                      Path(scratch) / "plots")
        _log_report(report)
    return report
