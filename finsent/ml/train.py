"""``finsent train`` and ``finsent evaluate``: the whole model step.

train: read the frozen snapshot (its hash checked), fit on train, make every choice on valid
(regularisation or early stopping, then the calibration of P(up)), score the test part once,
evaluate it against the baselines with session-clustered statistics, log everything to one MLflow
run, load the champion's predictions for the comparison, and only then register a new
``finsent-updown`` version (alias ``challenger``, and ``champion`` when it wins fairly: see
``finsent.ml.promotion``). The run is tagged as an attempt (``finsent.attempt``, its level
``finsent.alpha``) before anything is fitted, so a run that crashes still counts
(``finsent.ml.attempts``), and gets its ``finsent.verdict`` at the end.

evaluate: the same report for any registered version on any snapshot whose test part the version
never saw (its ``label_reach``); an overlapping one is refused, or reported with every number
marked in-sample when asked.
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
from finsent.errors import ConfigError, FinsentError, NotRegisteredError
from finsent.ml.attempts import TOTAL_ALPHA, count_attempts, spending_alpha, threshold_text
from finsent.ml.calibration import fit_platt
from finsent.ml.evaluate import EvaluationReport, evaluate_predictions
from finsent.ml.models.base import encode_labels
from finsent.ml.models.baseline import BaselineClassifier
from finsent.ml.models.calibrated import CalibratedClassifier
from finsent.ml.models.lora import LoraClassifier, LoraSpec, distributed_rank
from finsent.ml.promotion import ChampionDecision, TrainingRecord, decide, in_sample_sessions, record_from_rows
from finsent.ml.registry import MODEL_NAME, champion_inputs, configure, log_pyfunc, private_run, register_version
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT, Clusters, paired_test

log = logging.getLogger(__name__)


@dataclass
class TrainOutcome:
    run_id: str
    experiment_id: str
    version: int
    decision: ChampionDecision
    report: EvaluationReport


def _baselines(train: pd.DataFrame, test: pd.DataFrame, kind: str | None) -> dict[str, np.ndarray]:
    """What a model of ``kind`` is compared with (the majority baseline is evaluate_predictions' own,
    from the training up share). A TF-IDF baseline is not compared with the TF-IDF baseline: that
    would be itself, a test with p = 1 that says nothing."""
    baselines = {"previous_session": test["previous_session_up"].to_numpy()}
    if kind != "baseline":
        model = BaselineClassifier()
        model.fit(train["title"].tolist(), encode_labels(train["label"]))
        baselines["baseline"] = model.predict_proba(test["title"].tolist())
    return baselines


def _log_report(report: EvaluationReport, prefix: str = "test_") -> None:
    """Metrics, plots and the report of one evaluation, into the active MLflow run."""
    import mlflow

    mlflow.log_metrics(report.flat_metrics(prefix))
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
        attempt = _start_attempt(client, run.info.run_id, kind, record, test["session_date"].nunique())
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
            _baselines(train, test, kind), Path(scratch) / "plots")
        _log_report(report)
        decision = decide(record, report, test, p_test, _champion(engine, client, test["title"].tolist()),
                          attempt=attempt or 1)
        model_dir = Path(scratch) / "model"
        calibrated.save(model_dir)
        info = log_pyfunc(model_dir)
        tags = {**record.tags(), "model": kind, "test_accuracy": f"{report.metrics['accuracy']:.4f}",
                "test_balanced_accuracy": f"{report.metrics['balanced_accuracy']:.4f}",
                "test_n_sessions": str(int(report.counts["n_sessions"])),
                "champion_decision": decision.reason, "promoted": str(decision.promoted).lower(),
                "finsent.verdict": decision.verdict, "finsent.attempt": str(decision.attempt or ""),
                "finsent.alpha": f"{decision.alpha:.6g}" if decision.alpha else ""}
        version = register_version(client, info.model_uri, tags, decision.promoted)
        mlflow.set_tags({"champion_decision": decision.reason, "model_version": str(version),
                         "finsent.verdict": decision.verdict})
        log.info("run %s registered %s v%d: %s (%s)", run.info.run_id, MODEL_NAME, version,
                 "champion" if decision.promoted else "challenger", decision.reason)
        return TrainOutcome(run.info.run_id, run.info.experiment_id, version, decision, report)


def _start_attempt(client, run_id: str, kind: str, record: TrainingRecord, test_sessions: int) -> int | None:
    """Tag the run as an attempt before anything is fitted (a run that crashes still counts), and
    return its number since the last champion; None for a snapshot that can never be promoted: its
    label or split is ineligible, or its test part has fewer sessions than any verdict needs (no test
    is reported on it, so it spends no alpha; a new install's first weeks do not raise the bar)."""
    import mlflow

    why_not = record.ineligible_because()
    if why_not is None and test_sessions < MIN_SESSIONS_FOR_VERDICT:
        why_not = (f"its test part has {test_sessions} session dates, fewer than the {MIN_SESSIONS_FOR_VERDICT} "
                   "a verdict needs")
    mlflow.set_tags({"finsent.step": "train", "finsent.model_name": MODEL_NAME, "model": kind,
                     "finsent.eligible": "false" if why_not else "true", **record.tags()})
    if why_not:
        log.info("this version can be trained and evaluated but never promoted: %s", why_not)
        return None
    attempt = count_attempts(client, MODEL_NAME, run_id)
    mlflow.set_tags({"finsent.attempt": str(attempt), "finsent.alpha": f"{spending_alpha(attempt):.6g}"})
    log.info("%s (alpha-spending: the levels of all attempts add up to %g)", threshold_text(attempt), TOTAL_ALPHA)
    return attempt


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


def evaluate_version(settings: Settings, engine: Engine, version_or_alias: str, dataset: str, *,
                     allow_in_sample: bool = False) -> EvaluationReport:
    """The report of a registered version on ``dataset``'s test part. A test part that holds sessions
    the version's training labels reached is refused (ConfigError, naming them), or with
    ``allow_in_sample`` reported with every number marked in-sample."""
    import mlflow

    from finsent.ml.registry import load_pyfunc, predict, version_of

    snapshot = load_snapshot(engine, dataset)
    train, _, test = _parts(snapshot)
    client = configure(settings)
    try:
        version = version_of(client, version_or_alias)
    except NotRegisteredError as exc:  # a version asked for by name: bad input, not a missing champion
        raise ConfigError(f"--model-version {version_or_alias!r}: {exc}") from None
    tags = client.get_model_version(MODEL_NAME, str(version)).tags
    in_sample = _check_out_of_sample(version, TrainingRecord.from_tags(tags), test, dataset, allow_in_sample)
    p_test = predict(load_pyfunc(version), test["title"].tolist())
    label = f"{MODEL_NAME} v{version}" + (" (IN-SAMPLE: it saw sessions of this test part)" if in_sample else "")
    with tempfile.TemporaryDirectory(prefix="finsent-eval-") as scratch, \
            private_run(settings, run_name=f"evaluate-{'in-sample-' if in_sample else ''}v{version}-{dataset}"):
        mlflow.set_tags({"finsent.step": "evaluate", "dataset": dataset, "dataset_hash": snapshot.content_hash,
                         "model_version": str(version), "in_sample": str(in_sample).lower()})
        report = evaluate_predictions(label, test, p_test, float((train["label"] == "up").mean()),
                                      _baselines(train, test, tags.get("model")), Path(scratch) / "plots")
        report.in_sample = in_sample
        _log_report(report, "in_sample_test_" if in_sample else "test_")
        if not in_sample:  # the models page puts it beside the champion
            mlflow.log_metrics(_vs_champion(engine, client, version, test, p_test))
    return report


def _vs_champion(engine: Engine, client, version: int, test: pd.DataFrame, p_test: np.ndarray) -> dict[str, float]:
    """Accuracy against the champion on the test sessions neither saw: the paired test clustered by
    session (``test_vs_champion_*``); only the session count below the minimum for a verdict."""
    champion = _champion(engine, client, test["title"].tolist())
    if champion is None or champion[0] == version:
        return {}
    _, record, p_old = champion
    seen = in_sample_sessions(record, test["session_date"])
    if seen is None:
        return {}
    keep = ~test["session_date"].isin(seen).to_numpy()
    part = test[keep]
    clusters = Clusters.of(part["ticker"], part["session_date"])
    if clusters.n_sessions < MIN_SESSIONS_FOR_VERDICT:
        return {"test_vs_champion_n_sessions": float(clusters.n_sessions)}
    y = (part["label"].to_numpy() == "up").astype(np.int64)
    gain, p_value = paired_test((p_test[keep] > 0.5) == y, (p_old[keep] > 0.5) == y, clusters)
    return {"test_vs_champion_accuracy_gain": gain, "test_vs_champion_p_value": p_value,
            "test_vs_champion_n_sessions": float(clusters.n_sessions)}


def _check_out_of_sample(version: int, record: TrainingRecord | None, test: pd.DataFrame, dataset: str,
                         allow_in_sample: bool) -> bool:
    """True when the report must be marked in-sample; raises when that was not allowed."""
    seen = in_sample_sessions(record, test["session_date"])
    if seen is None:
        problem = (f"v{version} records no training span (seen_through and label horizon tags), so no test part "
                   "can be shown to be new to it")
    elif seen:
        problem = (f"the test part of {dataset!r} holds {len(seen)} session(s) v{version} saw: {seen[0]} .. "
                   f"{seen[-1]} (it trained or validated through {record.seen_through}; its labels, horizon "
                   f"{record.horizon}, reach {record.reach})")
    else:
        return False
    if not allow_in_sample:
        raise ConfigError(f"{problem}: that would be an in-sample report. Evaluate it on a snapshot whose test part "
                          "starts later, or pass --allow-in-sample to have every number marked in-sample")
    log.warning("%s: every number of this report is in-sample", problem)
    return True
