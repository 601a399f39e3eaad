"""``finsent train``: the whole model step.

Read the frozen snapshot (its hash checked), fit on train, make every choice on valid
(regularisation or early stopping, then the calibration of P(up)), score the test part once,
evaluate it against the baselines with session-clustered statistics, log everything to one MLflow
run, load the champion's predictions for the comparison, and only then register a new
``finsent-updown`` version (alias ``challenger``, and ``champion`` when it wins fairly: see
``finsent.ml.promotion``). The run is tagged as an attempt (``finsent.attempt``, its level
``finsent.alpha``) before anything is fitted, so a run that crashes still counts
(``finsent.ml.attempts``), and gets its ``finsent.verdict`` at the end.

``finsent evaluate`` (any registered version on a snapshot it never saw) is ``finsent.ml.evaluate``.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.data.snapshots import load_snapshot
from finsent.data.text import TextSpec
from finsent.ml.attempts import TOTAL_ALPHA, cannot_reach, count_attempts, spending_alpha, threshold_text
from finsent.ml.calibration import fit_platt
from finsent.ml.champion import champion_with_record
from finsent.ml.evaluate import (
    EvaluationReport,
    compared_baselines,
    evaluate_predictions,
    log_report,
    snapshot_parts,
)
from finsent.ml.lineage import TrainingRecord
from finsent.ml.models import new_classifier
from finsent.ml.models.base import encode_labels
from finsent.ml.models.calibrated import CalibratedClassifier
from finsent.ml.models.hf.spec import TransformerSpec, distributed_rank
from finsent.ml.models.kinds import model_kind
from finsent.ml.models.texts import texts_of
from finsent.ml.promotion import ChampionDecision, decide, ineligible_because
from finsent.ml.registry import (
    MODEL_NAME,
    configure,
    log_pyfunc,
    model_name,
    private_run,
    register_version,
)
from finsent.ml.stats import min_sessions_for_verdict

log = logging.getLogger(__name__)


@dataclass
class TrainOutcome:
    run_id: str
    experiment_id: str
    version: int
    decision: ChampionDecision
    report: EvaluationReport


def _fit_on_train_choose_on_valid(model, train: pd.DataFrame, valid: pd.DataFrame,
                                  text: TextSpec) -> CalibratedClassifier:
    """Fit; regularisation / early stopping and the calibration come from valid, never from test."""
    y_valid = encode_labels(valid["label"])
    has_valid = len(valid) > 0 and len(np.unique(y_valid)) == 2
    model.fit(texts_of(train, text), encode_labels(train["label"]),
              valid=(texts_of(valid, text), y_valid) if has_valid else None)
    calibration = fit_platt(model.predict_proba(texts_of(valid, text)), y_valid) if has_valid else None
    if calibration is None:
        log.warning("no valid part with both classes: P(up) stays uncalibrated")
    return CalibratedClassifier(model, calibration, text)


def train_model(settings: Settings, engine: Engine, dataset: str, kind: str, *,
                transformer: TransformerSpec | None = None, experiment: str = "finsent",
                tokenizer: str = "char") -> TrainOutcome | None:
    """The whole step; returns None on the non-zero ranks of a multi-GPU job. ``transformer``: the
    options of a transformers kind (lora, encoder, prompt; default: the kind's defaults); ``tokenizer``:
    what the baseline counts (char n-grams or kiwi morphemes)."""
    import mlflow

    model_kind(kind)
    model = new_classifier(kind, transformer, tokenizer=tokenizer)  # its options checked before any data is read
    snapshot = load_snapshot(engine, dataset)
    train, valid, test = snapshot_parts(snapshot)
    text = snapshot.text  # what the snapshot froze: the title, or the title and the head of the body
    if distributed_rank() != 0:  # multi-GPU: the other ranks train their share; rank 0 logs and registers
        model.fit(texts_of(train, text), encode_labels(train["label"]))
        return None
    record = TrainingRecord.from_snapshot(engine, snapshot)
    client = configure(settings, experiment)
    registered = model_name(snapshot.spec.get("source"))  # board, news and both: one champion each
    with tempfile.TemporaryDirectory(prefix="finsent-train-") as scratch, \
            private_run(settings, run_name=f"train-{kind}-{dataset}") as run:
        attempt = _start_attempt(client, run.info.run_id, kind, record, test["session_date"].nunique(), registered)
        params = {"model": kind, "dataset": dataset, "dataset_hash": snapshot.content_hash,
                  "n_train": len(train), "n_valid": len(valid), "n_test": len(test), "text": text.text,
                  "text_tokens": text.tokens}
        log.info("fitting %s on %d posts of %s (%d valid)", kind, len(train), dataset, len(valid))
        calibrated = _fit_on_train_choose_on_valid(model, train, valid, text)
        params.update({k: str(v) for k, v in model.params.items()})  # with what fitting chose (LoRA targets)
        params.update(_choices(model, calibrated))
        mlflow.log_params(params)
        p_test = calibrated.predict_proba(texts_of(test, text))  # the test part, scored once
        report = evaluate_predictions(
            kind, test, p_test, float((train["label"] == "up").mean()),
            compared_baselines(train, test, kind, text), Path(scratch) / "plots", horizon=record.horizon)
        log_report(report)
        champion = champion_with_record(engine, client, test, registered)
        decision = decide(record, report, test, p_test, champion, attempt=attempt or 1)
        model_dir = Path(scratch) / "model"
        calibrated.save(model_dir)
        info = log_pyfunc(model_dir)
        tags = {**record.tags(), "model": kind, **_base_tag(model), "text": text.text,
                **({"tokenizer": model.params["tokenizer"]} if "tokenizer" in model.params else {}),
                "test_accuracy": f"{report.metrics['accuracy']:.4f}",
                "test_balanced_accuracy": f"{report.metrics['balanced_accuracy']:.4f}",
                "test_n_sessions": str(int(report.counts["n_sessions"])),
                "champion_decision": decision.reason, "promoted": str(decision.promoted).lower(),
                "finsent.verdict": decision.verdict, "finsent.attempt": str(decision.attempt or ""),
                "finsent.alpha": f"{decision.alpha:.6g}" if decision.alpha else ""}
        version = register_version(client, info.model_uri, tags, decision.promoted, registered)
        mlflow.set_tags({"champion_decision": decision.reason, "model_version": str(version),
                         "finsent.verdict": decision.verdict})
        log.info("run %s registered %s v%d: %s (%s)", run.info.run_id, registered, version,
                 "champion" if decision.promoted else "challenger", decision.reason)
        return TrainOutcome(run.info.run_id, run.info.experiment_id, version, decision, report)


def _start_attempt(client, run_id: str, kind: str, record: TrainingRecord, test_sessions: int,
                   registered: str = MODEL_NAME) -> int | None:
    """Tag the run as an attempt before anything is fitted (a run that crashes still counts), and
    return its number since the last champion. A snapshot that can never be promoted spends nothing
    and is tagged ``finsent.eligible=false`` (None, or the number it would have had): its label or
    split is ineligible, its test part has fewer sessions than any verdict needs, or fewer than any
    p below this attempt's level needs (no test on it can promote, so it spends no alpha; a new
    install's first weeks do not raise the bar)."""
    import mlflow

    why_not, needed, h = ineligible_because(record), min_sessions_for_verdict(record.horizon), record.horizon
    if why_not is None and test_sessions < needed:
        per = f" (10 blocks of {h}: its labels span {h} sessions)" if h > 1 else ""
        why_not = f"its test part has {test_sessions} session dates, fewer than the {needed}{per} a verdict needs"
    attempt = None if why_not else count_attempts(client, registered, run_id)
    if attempt is not None:
        why_not = cannot_reach(attempt, test_sessions, h)
    mlflow.set_tags({"finsent.step": "train", "finsent.model_name": registered, "model": kind,
                     "finsent.eligible": "false" if why_not else "true", **record.tags()})
    if why_not or attempt is None:
        log.info("this version can be trained and evaluated but never promoted (this attempt spends nothing): %s",
                 why_not)
        return attempt
    mlflow.set_tags({"finsent.attempt": str(attempt), "finsent.alpha": f"{spending_alpha(attempt):.6g}"})
    log.info("%s (alpha-spending: the levels of all attempts add up to %g)", threshold_text(attempt), TOTAL_ALPHA)
    return attempt


def _base_tag(model) -> dict[str, str]:
    """The base a transformers version was made from (the Models page shows it beside the kind)."""
    spec = getattr(model, "spec", None)
    return {"base_model": str(spec.base_model)} if spec is not None else {}


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


