"""Honest evaluation on a snapshot's test part: metrics with intervals, tests, baselines, plots.

Every interval and test is clustered by session date (see ``finsent.ml.stats``): a test part of
4,000 posts on 8 dates is 8 observations, and the report says so beside every number
(``n_posts``, ``n_clusters`` = (ticker, session) pairs, ``n_sessions`` = dates). Labels over h
sessions (the snapshot's label definition) make neighbouring dates share sessions: then the units
are ``n_blocks`` blocks of h consecutive dates (``finsent.ml.overlap``), and the report says so.

- metrics: accuracy, balanced accuracy, macro-F1, MCC, ROC-AUC, Brier, log-loss and the expected
  calibration error (ECE), each with a 95% interval (jackknife over dates or blocks, t on the
  effective number of them - 1);
- tests (one-sided sign-flip tests over dates or blocks): balanced accuracy > 0.5 (skill the base rate
  cannot fake), accuracy > 50%, and accuracy above each baseline on the same posts (``majority``:
  always the training majority; ``previous_session``: yesterday's direction; ``baseline``: TF-IDF);
- a per-ticker table (posts, sessions, accuracy with its interval, balanced accuracy, its raw p
  and its Holm-adjusted p across tickers);
- the finance view: the index (mean P(up) of the posts before each (ticker, session)) and its
  information coefficient with the label's return, per date with its interval, a Newey-West t and
  a sign-flip p (with 1-2 stocks: the pooled timing correlation instead);
- plots: confusion matrix, reliability diagram, index against price.

With fewer than ``MIN_SESSIONS_FOR_VERDICT`` blocks (10 x h test session dates:
``min_sessions_for_verdict``) there is **no verdict**: the report says "too few sessions for a
verdict (n = G)", ``shows_skill`` is False, every p in
``tests`` is 1.0 by rule (so nothing downstream can promote on it), ``intervals`` is empty, and
``flat_metrics`` logs no p-value, interval or t, only the point estimates, the counts and
``has_verdict`` = 0. The same holds per ticker ("too few sessions" in its row).

``finsent evaluate`` (``evaluate_version``): the same report for any registered version on any
snapshot whose test part the version never saw (its ``label_reach``, ``finsent.ml.lineage``); an
overlapping one is refused, or reported with every number marked in-sample when asked.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.data.snapshots import Snapshot, load_snapshot
from finsent.data.stored_texts import with_stored_texts
from finsent.data.text import TextSpec
from finsent.errors import ConfigError, NotRegisteredError
from finsent.ml.champion import vs_champion
from finsent.ml.lineage import TrainingRecord, in_sample_sessions, snapshot_horizon
from finsent.ml.metrics import METRIC_NAMES, classification_metrics, shown
from finsent.ml.models.texts import texts_of
from finsent.ml.registry import (
    configure,
    load_pyfunc,
    model_name,
    predict,
    private_run,
    version_of,
)
from finsent.ml.stats import (
    Clusters,
    balanced_accuracy_test,
    cluster_mean_test,
    holm,
    information_coefficient,
    min_sessions_for_verdict,
    paired_test,
    session_intervals,
)

log = logging.getLogger(__name__)

SKILL_P_VALUE = 0.05


@dataclass
class EvaluationReport:
    model: str
    counts: dict[str, float]  # n_posts, n_clusters, n_sessions
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    tests: dict[str, float]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    per_ticker: list[dict] = field(default_factory=list)
    finance: dict[str, float] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)
    in_sample: bool = False  # the model saw sessions of this test part: no number here is evidence
    horizon: int = 1  # of the labels: blocks of this many consecutive dates are the units

    @property
    def n_test(self) -> int:
        return int(self.counts["n_posts"])

    @property
    def has_verdict(self) -> bool:
        """Enough distinct test session dates (10 blocks of the horizon) for any p-value, interval or verdict."""
        return self.counts.get("n_sessions", 0) >= min_sessions_for_verdict(self.horizon)

    @property
    def units(self) -> str:
        """What the tests flip and the intervals leave out: "14 sessions" or "12 blocks of 5 sessions"."""
        n = self.counts.get("n_sessions", 0)
        if self.horizon <= 1:
            return f"{n:.0f} sessions"
        return f"{self.counts.get('n_blocks', 0):.0f} blocks of {self.horizon} consecutive sessions ({n:.0f} sessions)"

    @property
    def shows_skill(self) -> bool:
        """Out of sample, enough sessions, and balanced accuracy above 0.5 at p < 0.05 (sign-flip test
        over dates)."""
        skilled = self.tests.get("p_value_balanced_accuracy", 1.0) < SKILL_P_VALUE
        return not self.in_sample and self.has_verdict and skilled

    def flat_metrics(self, prefix: str = "test_") -> dict[str, float]:
        """MLflow metrics: test_accuracy, test_accuracy_ci_low, ..., test_n_sessions,
        baseline_majority_test_accuracy."""
        out: dict[str, float] = {f"{prefix}{k}": v for k, v in self.counts.items()}
        out[f"{prefix}has_verdict"] = float(self.has_verdict)
        for name, value in self.metrics.items():
            out[f"{prefix}{name}"] = value
            low, high = self.intervals.get(name, (float("nan"), float("nan")))
            out[f"{prefix}{name}_ci_low"], out[f"{prefix}{name}_ci_high"] = low, high
        if self.has_verdict:  # below the minimum no p-value is logged at all (not even the 1.0 of the rule)
            out.update({f"{prefix}{k}": v for k, v in self.tests.items()})
        out.update({f"{prefix}{k}": v for k, v in self.finance.items()})
        for baseline, metrics in self.baselines.items():
            out.update({f"baseline_{baseline}_{prefix}{k}": v for k, v in metrics.items()
                        if self.has_verdict or not k.startswith("p_value")})
        return {k: float(v) for k, v in out.items() if v is not None and not (isinstance(v, float) and math.isnan(v))}

    def verdict(self) -> str:
        if self.in_sample:
            return ("IN-SAMPLE, no evidence either way (the model saw sessions of this test part): "
                    + replace(self, in_sample=False).verdict())
        if not self.has_verdict:
            per = f" (10 blocks of {self.horizon}: its labels span {self.horizon} sessions)" if self.horizon > 1 else ""
            return (f"too few sessions for a verdict (n = {self.counts.get('n_sessions', 0):.0f}): balanced accuracy "
                    f"{shown(self.metrics.get('balanced_accuracy'))} on "
                    f"{self.counts.get('n_sessions', 0):.0f} test session dates, and a verdict needs at least "
                    f"{min_sessions_for_verdict(self.horizon)}{per}")
        low, high = self.intervals.get("balanced_accuracy", (float("nan"), float("nan")))
        value = self.metrics.get("balanced_accuracy", float("nan"))
        if not math.isfinite(value):
            return ("no evidence of skill: balanced accuracy undefined (the test part holds one class only) "
                    f"over {self.units}")
        if self.shows_skill:
            return (f"evidence of skill: balanced accuracy {shown(value)} "
                    f"[{shown(low)}, {shown(high)}], p = {self.tests['p_value_balanced_accuracy']:.3g} "
                    f"over {self.units}")
        return (f"no evidence of skill: balanced accuracy {shown(value)} "
                f"[{shown(low)}, {shown(high)}], p = {self.tests.get('p_value_balanced_accuracy', 1.0):.3g} "
                f"over {self.units}")

    def to_markdown(self) -> str:
        c = self.counts
        rows = [("this model", self.metrics), *self.baselines.items()]
        lines = [f"# Evaluation of {self.model}", "",
                 f"Test part: **{c['n_posts']:.0f} posts** in **{c['n_clusters']:.0f} (ticker, session) clusters** "
                 f"on **{c['n_sessions']:.0f} session dates**. Posts of one cluster share their label and stocks "
                 f"move together on a date, so the dates are the independent observations: {self._method()}", "",
                 f"**{self.verdict()}**", "",
                 "| model | " + " | ".join(METRIC_NAMES) + " |", "|---|" + "---:|" * len(METRIC_NAMES)]
        for label, metrics in rows:
            lines.append(f"| {label} | " + " | ".join(shown(metrics.get(n), 4) for n in METRIC_NAMES) + " |")
        if self.has_verdict:
            lines += ["", f"95% intervals (this model; delete-one-{'date' if self.horizon <= 1 else 'block'} "
                      "jackknife, t on the effective number of them - 1):", ""]
            lines += [f"- {n}: {shown(self.metrics[n], 4)} [{shown(lo, 4)}, {shown(hi, 4)}]"
                      for n, (lo, hi) in self.intervals.items() if n in METRIC_NAMES]
            lines += ["", f"One-sided sign-flip tests over {self.units}:", ""]
            lines += [f"- {name}: p = {value:.3g}" for name, value in self.tests.items()]
        lines += ["", "| ticker | posts | sessions | accuracy | 95% interval | balanced acc. | p (skill) | "
                  "p (skill, Holm across tickers) |", "|---|---:|---:|---:|---|---:|---:|---:|"]
        lines += [_ticker_row(r) for r in self.per_ticker]
        return "\n".join([*lines, "", _finance_line(self.finance, self.horizon)]) + "\n"

    def _method(self) -> str:
        if self.horizon <= 1:
            return "every interval is a jackknife over dates, every test flips the signs of whole dates."
        return (f"and its labels span {self.horizon} sessions, so neighbouring dates share sessions: the units are "
                f"**{self.counts.get('n_blocks', 0):.0f} blocks of {self.horizon} consecutive dates**; every interval "
                "is a jackknife over blocks and every test flips the signs of whole blocks, both allowing for the "
                "covariance of neighbouring blocks.")

    def to_json(self) -> str:
        payload = {k: v for k, v in self.__dict__.items() if k != "plots"}
        return json.dumps(payload, ensure_ascii=False, indent=2, default=str)


def _tests(y: np.ndarray, p_up: np.ndarray, clusters: Clusters, baselines: dict[str, np.ndarray]) -> dict[str, float]:
    correct = ((p_up > 0.5) == y).astype(np.float64)
    tests = {"p_value_balanced_accuracy": balanced_accuracy_test(y, p_up, clusters)[1],
             "p_value_vs_half": cluster_mean_test(correct, clusters, 0.5)[1]}
    for name, p in baselines.items():
        tests[f"p_value_vs_{name}"] = paired_test(correct, (np.asarray(p) > 0.5) == y, clusters)[1]
    return tests


def _ticker_row(r: dict) -> str:
    head = f"| {r['ticker']} | {r['n_posts']} | {r['n_sessions']} | {shown(r['accuracy'], 4)} | "
    if not r["has_verdict"]:
        return head + f"too few sessions | {shown(r['balanced_accuracy'], 4)} | too few sessions | too few sessions |"
    return head + (f"[{shown(r['accuracy_ci_low'], 4)}, {shown(r['accuracy_ci_high'], 4)}] | "
                   f"{shown(r['balanced_accuracy'], 4)} | "
                   f"{r['p_value_balanced_accuracy']:.3g} | {r['p_value_balanced_accuracy_holm']:.3g} |")


def _finance_line(f: dict[str, float], horizon: int = 1) -> str:
    counts = f"over {f.get('ic_sessions', 0):.0f} sessions ({f.get('ic_pairs', 0):.0f} (ticker, session) pairs)"
    units = "dates" if horizon <= 1 else f"{f.get('ic_blocks', 0):.0f} blocks of {horizon} dates"
    move = "the session's return" if horizon <= 1 else f"the label's {horizon}-session return"
    if f.get("ic_per_date"):
        return (f"Information coefficient of the daily index with {move} (per-date Spearman across stocks; 95% "
                f"interval and sign-flip p over {units}, Newey-West t): IC = {shown(f.get('ic'), 4)} "
                f"[{shown(f.get('ic_ci_low'), 4)}, {shown(f.get('ic_ci_high'), 4)}], "
                f"t = {shown(f.get('ic_t'), 2)}, p = {_p(f.get('ic_p'))} {counts}.")
    return (f"Timing correlation of the daily index with {move} (fewer than 3 stocks, so no cross-section: a "
            "pooled Spearman over (ticker, session) pairs, a time-series correlation, not an IC): "
            f"{shown(f.get('timing_corr'), 4)} [{shown(f.get('timing_corr_ci_low'), 4)}, "
            f"{shown(f.get('timing_corr_ci_high'), 4)}], t = {shown(f.get('timing_corr_t'), 2)}, "
            f"p = {_p(f.get('timing_corr_p'))} {counts}.")


def _p(value: float | None) -> str:
    return f"{value:.3g}" if value is not None and math.isfinite(value) else "undefined"


def _per_ticker(frame: pd.DataFrame, horizon: int = 1) -> list[dict]:
    """One row per ticker; its p and interval only from ``min_sessions_for_verdict`` dates on, the p
    Holm-adjusted across the tickers that have one."""
    rows = []
    for ticker, part in frame.groupby("ticker"):
        y, p = part["_y"].to_numpy(), part["_p"].to_numpy()
        clusters = Clusters.of(part["ticker"], part["session_date"], horizon)
        metrics = classification_metrics(y, p)
        enough = clusters.has_verdict
        low, high = (session_intervals(y, p, clusters).get("accuracy", (math.nan, math.nan)) if enough
                     else (math.nan, math.nan))
        rows.append({"ticker": ticker, "n_posts": len(part), "n_sessions": clusters.n_sessions, "has_verdict": enough,
                     "accuracy": metrics["accuracy"], "accuracy_ci_low": low, "accuracy_ci_high": high,
                     "balanced_accuracy": metrics["balanced_accuracy"],
                     "p_value_balanced_accuracy": balanced_accuracy_test(y, p, clusters)[1] if enough else math.nan})
    for row, adjusted in zip(rows, holm([r["p_value_balanced_accuracy"] for r in rows])):
        row["p_value_balanced_accuracy_holm"] = adjusted
    return rows


def evaluate_predictions(model: str, test: pd.DataFrame, p_up: np.ndarray, train_up_share: float,
                         baselines: dict[str, np.ndarray], plot_dir: Path | None = None, *,
                         horizon: int = 1) -> EvaluationReport:
    """test: ticker, session_date, label ('up'/'down'), ret per post; p_up: this model's P(up);
    ``horizon``: the sessions each label spans (the snapshot's definition).

    ``train_up_share`` picks the majority baseline's answer when ``baselines`` has none."""
    y = (test["label"].to_numpy() == "up").astype(np.int64)
    p_up = np.asarray(p_up, dtype=np.float64)
    clusters = Clusters.of(test["ticker"], test["session_date"], horizon)
    baselines = {"majority": np.full(len(y), 1.0 if train_up_share >= 0.5 else 0.0), **baselines}
    enough = clusters.has_verdict
    tests = _tests(y, p_up, clusters, baselines)
    report = EvaluationReport(model=model, counts=clusters.counts(), metrics=classification_metrics(y, p_up),
                              intervals=session_intervals(y, p_up, clusters) if enough else {},
                              tests=tests if enough else dict.fromkeys(tests, 1.0),  # no verdict: p = 1 by rule
                              horizon=clusters.horizon)
    for name, p in baselines.items():
        p = np.asarray(p, dtype=np.float64)
        report.baselines[name] = {**classification_metrics(y, p), "p_value_balanced_accuracy":
                                  balanced_accuracy_test(y, p, clusters)[1] if enough else 1.0}
    report.per_ticker = _per_ticker(test.assign(_p=p_up, _y=y), clusters.horizon)
    frame = test.assign(p_up=p_up)
    report.finance = information_coefficient(frame, clusters.horizon)
    if plot_dir is not None:
        from finsent.ml.plots import calibration_plot, confusion_plot, index_plot

        plot_dir.mkdir(parents=True, exist_ok=True)
        report.plots = [confusion_plot(y, p_up, plot_dir / "confusion_matrix.png"),
                        calibration_plot(y, p_up, plot_dir / "calibration.png"),
                        index_plot(frame, plot_dir / "sentiment_index.png")]
    return report


def compared_baselines(train: pd.DataFrame, test: pd.DataFrame, kind: str | None,
                       text: TextSpec | None = None) -> dict[str, np.ndarray]:
    """What a model of ``kind`` is compared with (the majority baseline is evaluate_predictions' own,
    from the training up share). A TF-IDF baseline is not compared with the TF-IDF baseline: that
    would be itself, a test with p = 1 that says nothing. The TF-IDF reads what the model reads (``text``)."""
    from finsent.ml.models.base import encode_labels
    from finsent.ml.models.baseline import BaselineClassifier  # scikit-learn: only when evaluating

    baselines = {"previous_session": test["previous_session_up"].to_numpy()}
    if kind != "baseline":
        model = BaselineClassifier()
        model.fit(texts_of(train, text), encode_labels(train["label"]))
        baselines["baseline"] = model.predict_proba(texts_of(test, text))
    return baselines


def log_report(report: EvaluationReport, prefix: str = "test_") -> None:
    """Metrics (named ``prefix`` + metric), plots and the report of one evaluation, into the active
    MLflow run."""
    import mlflow

    mlflow.log_metrics(report.flat_metrics(prefix))
    for plot in report.plots:
        mlflow.log_artifact(str(plot), "plots")
    mlflow.log_text(report.to_markdown(), "evaluation/report.md")
    mlflow.log_text(report.to_json(), "evaluation/report.json")


def snapshot_parts(snapshot: Snapshot) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """train, valid and test; ConfigError unless train holds both classes and test holds posts."""
    train, valid, test = (snapshot.part(s) for s in ("train", "valid", "test"))
    if train.empty or test.empty or train["label"].nunique() < 2:
        raise ConfigError(f"dataset {snapshot.name!r} needs both classes in train and a non-empty test part")
    return train, valid, test


def evaluate_version(settings: Settings, engine: Engine, version_or_alias: str, dataset: str, *,
                     allow_in_sample: bool = False, source: str | None = None) -> EvaluationReport:
    """The report of a registered version on ``dataset``'s test part: a version of the registered model
    of ``source`` (board: finsent-updown, news: finsent-news-updown, both: finsent-both-updown; default
    the snapshot's own source, so a news snapshot evaluates news versions). A test part that holds
    sessions the version's training labels reached is refused (ConfigError, naming them), or with
    ``allow_in_sample`` reported with every number marked in-sample."""
    import mlflow

    snapshot = load_snapshot(engine, dataset)
    train, _, test = snapshot_parts(snapshot)
    registered = model_name(source or snapshot.spec.get("source"))
    client = configure(settings)
    try:
        version = version_of(client, version_or_alias, registered)
    except NotRegisteredError as exc:  # a version asked for by name: bad input, not a missing champion
        raise ConfigError(f"--model-version {version_or_alias!r}: "
                          f"{_next_command(client, registered, version_or_alias, dataset) or exc}") from None
    tags = client.get_model_version(registered, str(version)).tags
    in_sample = _check_out_of_sample(version, TrainingRecord.from_tags(tags), test, dataset, allow_in_sample)
    # the version reads what it was made to read: the board posts' stored bodies and comments, whatever
    # the snapshot froze (its rows, labels and splits are the snapshot's)
    p_test = predict(load_pyfunc(version, registered), with_stored_texts(engine, test))
    label = f"{registered} v{version}" + (" (IN-SAMPLE: it saw sessions of this test part)" if in_sample else "")
    with tempfile.TemporaryDirectory(prefix="finsent-eval-") as scratch, \
            private_run(settings, run_name=f"evaluate-{'in-sample-' if in_sample else ''}v{version}-{dataset}"):
        mlflow.set_tags({"finsent.step": "evaluate", "dataset": dataset, "dataset_hash": snapshot.content_hash,
                         "model_version": str(version), "finsent.model_name": registered,
                         "in_sample": str(in_sample).lower()})
        horizon = snapshot_horizon(engine, snapshot)
        report = evaluate_predictions(label, test, p_test, float((train["label"] == "up").mean()),
                                      compared_baselines(train, test, tags.get("model"), snapshot.text),
                                      Path(scratch) / "plots", horizon=horizon)
        report.in_sample = in_sample
        log_report(report, "in_sample_test_" if in_sample else "test_")
        if not in_sample:  # the models page puts it beside the champion
            mlflow.log_metrics(vs_champion(engine, client, version, test, p_test, registered, horizon))
    return report


def _next_command(client, registered: str, asked: str, dataset: str) -> str | None:
    """Why ``asked`` names no version and what to run instead, naming the newest version (right after
    training v1 there is no champion yet); None when nothing is registered."""
    from finsent.ml.registry import latest_decision, newest_version

    newest = newest_version(client, registered)
    if newest is None:
        return None
    decision = latest_decision(client, registered)
    what = f"no version {asked!r}" if str(asked).isdigit() else f"no @{asked} yet"
    return (f"{registered} has {what}; its newest is v{newest}" + (f" ({decision})" if decision else "")
            + f". Evaluate it by number: `finsent evaluate --dataset {dataset} --model-version {newest}`")


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
