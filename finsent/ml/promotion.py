"""When the champion moves: only when a version wins fairly, and every decision says why.

A version is eligible to be champion only if its labels look forward (``same_day`` reproduces the
2023 study and reads the answer off the post's own session: never eligible) and its snapshot was
split by time (the study's random split puts a session's posts on both sides: never eligible).

- **The first champion** must show skill that does not depend on the base rate: balanced accuracy
  above 0.5 on its test part, one-sided p < 0.05 clustered by session date. Until a version does,
  there is no champion and scoring waits.
- **A challenger** replaces the champion only with the same label definition, a test part whose
  sessions all come after every session either model trained or validated on (read from
  ``dataset_rows``, or from the champion's tags when its snapshot is gone), and a paired,
  session-clustered one-sided test of accuracy on that test part at p < 0.05.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from finsent.data.snapshots import Snapshot
from finsent.ml.evaluate import SKILL_P_VALUE, EvaluationReport
from finsent.ml.stats import Clusters, paired_test

log = logging.getLogger(__name__)

PROMOTION_P_VALUE = 0.05
FORWARD_RULES = ("next_open_close", "next_session")  # label rules that only use prices after the post


@dataclass(frozen=True)
class TrainingRecord:
    """What a version learnt from, as tagged on it: the snapshot, its label definition and rule,
    its split, the last session it trained or validated on, and its test span."""

    dataset: str
    dataset_hash: str
    definition: str
    label_rule: str
    split: str
    seen_through: date | None
    test_from: date | None
    test_to: date | None

    _DATES = ("seen_through", "test_from", "test_to")

    def tags(self) -> dict[str, str]:
        return {"dataset": self.dataset, "dataset_hash": self.dataset_hash, "label_definition": self.definition,
                "label_rule": self.label_rule, "split": self.split,
                **{k: (getattr(self, k).isoformat() if getattr(self, k) else "") for k in self._DATES}}

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> TrainingRecord | None:
        needed = ("dataset", "label_definition", "label_rule", "split", *cls._DATES)
        if any(k not in tags for k in needed):
            return None
        dates = {k: date.fromisoformat(tags[k]) if tags[k] else None for k in cls._DATES}
        return cls(tags["dataset"], tags.get("dataset_hash", ""), tags["label_definition"], tags["label_rule"],
                   tags["split"], **dates)

    @classmethod
    def from_snapshot(cls, engine: Engine, snapshot: Snapshot) -> TrainingRecord:
        from finsent.data.labels import load_definition
        from finsent.db import raw_connection

        with raw_connection(engine) as raw, raw.cursor() as cur:
            rule = load_definition(cur, snapshot.spec["definition"]).rule
        seen = snapshot.session_span("train", "valid")
        test = snapshot.session_span("test")
        return cls(snapshot.name, snapshot.content_hash, snapshot.spec["definition"], rule, snapshot.spec["split"],
                   seen[1] if seen else None, test[0] if test else None, test[1] if test else None)

    def ineligible_because(self) -> str | None:
        if self.label_rule not in FORWARD_RULES:
            return (f"label definition {self.definition!r} ({self.label_rule}) is not forward-looking: "
                    "it reproduces the study and is never eligible")
        if self.split != "time":
            return f"snapshot {self.dataset!r} is a {self.split} split: only time splits are eligible"
        return None


def record_from_rows(engine: Engine, dataset: str, dataset_hash: str) -> TrainingRecord | None:
    """A version's record read from ``dataset_rows``, when its snapshot is still the one it trained on."""
    query = """
        SELECT ds.content_hash, ds.spec->>'definition', ds.spec->>'split', ld.rule,
               max(r.session_date) FILTER (WHERE r.split IN ('train', 'valid')),
               min(r.session_date) FILTER (WHERE r.split = 'test'), max(r.session_date) FILTER (WHERE r.split = 'test')
        FROM datasets ds JOIN dataset_rows r ON r.dataset = ds.name
        LEFT JOIN label_definitions ld ON ld.name = ds.spec->>'definition'
        WHERE ds.name = %(name)s GROUP BY 1, 2, 3, 4"""
    with engine.connect() as conn:
        row = conn.exec_driver_sql(query, {"name": dataset}).first()
    if row is None or row[0] != dataset_hash:
        return None
    return TrainingRecord(dataset, row[0], row[1], row[3] or "", row[2], row[4], row[5], row[6])


@dataclass
class ChampionDecision:
    promoted: bool
    reason: str
    p_value: float | None = None
    previous: int | None = None


def decide(record: TrainingRecord, report: EvaluationReport, test: pd.DataFrame, p_new: np.ndarray,
           champion: tuple[int, TrainingRecord | None, np.ndarray] | None) -> ChampionDecision:
    """The rule of the module docstring. ``champion``: (version, its record, its P(up) on ``test``),
    or None when there is no champion yet."""
    why_not = record.ineligible_because()
    if why_not:
        return ChampionDecision(False, f"not eligible: {why_not}", previous=champion[0] if champion else None)
    if champion is None:
        p_skill = report.tests.get("p_value_balanced_accuracy", 1.0)
        if p_skill < SKILL_P_VALUE:
            return ChampionDecision(True, f"first champion: {report.verdict()}", p_skill)
        return ChampionDecision(False, f"no champion yet: {report.verdict()} (a first champion needs p < "
                                       f"{SKILL_P_VALUE})", p_skill)
    version, old, p_old = champion
    if old is None:
        return ChampionDecision(False, f"champion v{version} records no training span: cannot check that this test "
                                       "part is new to it; promote by hand if intended", previous=version)
    if old.definition != record.definition:
        return ChampionDecision(False, f"label definition {record.definition!r} differs from champion v{version}'s "
                                       f"{old.definition!r}", previous=version)
    seen = max(d for d in (old.seen_through, record.seen_through) if d is not None)
    if record.test_from is None or record.test_from <= seen:
        return ChampionDecision(False, f"test part starts {record.test_from}, not after {seen}, the last session "
                                       f"one of the two models trained or validated on", previous=version)
    y = (test["label"].to_numpy() == "up").astype(np.int64)
    clusters = Clusters.of(test["ticker"], test["session_date"])
    gain, p_value = paired_test((p_new > 0.5) == y, (p_old > 0.5) == y, clusters)
    promoted = bool(gain > 0 and p_value < PROMOTION_P_VALUE)
    reason = (f"accuracy {gain:+.4f} vs champion v{version} on {clusters.n_sessions} sessions after both trained, "
              f"paired test clustered by session p = {p_value:.3g}"
              + ("" if promoted else f" (needs p < {PROMOTION_P_VALUE})"))
    return ChampionDecision(promoted, reason, p_value, version)
