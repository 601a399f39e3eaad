"""When the champion moves: only when a version wins fairly, and every decision says why.

A version is eligible to be champion only if its label is **tradable** and its snapshot was split
by time:

- ``next_open_close`` (the open-to-close move of the first session that opens after the post) is
  what the long-short book earns, so it is the only label a verdict may rest on;
- ``next_session`` (close to close) pays for the overnight gap: most posts are written after the
  close, when part of that move is already public (after-hours and alternative-venue trading, the
  US session, after-close filings), so a model that reads the gap passes every test and earns
  nothing: not tradable, never eligible;
- ``same_day`` reproduces the 2023 study and reads the answer off the post's own session; the
  study's random split puts a session's posts on both sides: never eligible.

Ineligible versions are trained, evaluated and registered like any other; their decision says why
they can never be champion.

Every test of an attempt runs at the level ``alpha_k`` that ``finsent.ml.attempts`` allows the
k-th attempt since the champion last changed (alpha-spending: the levels add up to 0.04 over all
attempts, so repeated weekly tries on a board without signal make a false champion at most 5% of
the time).

- **The first champion** must show skill that does not depend on the base rate: balanced accuracy
  above 0.5 on its test part (a report that ``shows_skill``: enough sessions for a verdict,
  clustered by session date) at one-sided p < alpha_k. Until a version does, there is no champion
  and scoring waits.
- **A challenger** replaces the champion only with the same label definition, a test part that
  starts after the last session whose price either model's training labels used (the later
  ``seen_through`` of the two, plus horizon - 1 trading sessions: read from ``dataset_rows`` and
  prices, or from the champion's tags when its snapshot is gone), skill of its own by the same
  test at p < alpha_k, and a paired, session-clustered one-sided test of accuracy against the
  champion on that test part at p < alpha_k. Both tests must pass (an intersection-union test: each
  at alpha_k keeps the whole at alpha_k).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from finsent.data.snapshots import Snapshot
from finsent.ml.attempts import spending_alpha, threshold_text
from finsent.ml.evaluate import EvaluationReport
from finsent.ml.stats import Clusters, paired_test

log = logging.getLogger(__name__)

TRADABLE_RULES = ("next_open_close",)  # label rules whose move the book can earn
_NOT_TRADABLE = {
    "next_session": "next_session pays for the overnight gap: not tradable (part of a close-to-close move is "
                    "public after the close); train on a next_open_close snapshot",
    "same_day": "same_day is not forward-looking: it reproduces the study and is never eligible",
}


@dataclass(frozen=True)
class TrainingRecord:
    """What a version learnt from, as tagged on it: the snapshot, its label definition, rule and
    horizon, its split, the last session it trained or validated on, the last session whose price
    those labels used (``label_reach``: ``seen_through`` plus horizon - 1 trading sessions), and its
    test span."""

    dataset: str
    dataset_hash: str
    definition: str
    label_rule: str
    split: str
    seen_through: date | None
    test_from: date | None
    test_to: date | None
    horizon: int = 1
    label_reach: date | None = None

    _DATES = ("seen_through", "test_from", "test_to", "label_reach")

    @property
    def reach(self) -> date | None:
        """The last session any of its training labels looked at (None: unknown)."""
        if self.label_reach is not None:
            return self.label_reach
        return self.seen_through if self.horizon == 1 else None

    def tags(self) -> dict[str, str]:
        return {"dataset": self.dataset, "dataset_hash": self.dataset_hash, "label_definition": self.definition,
                "label_rule": self.label_rule, "label_horizon": str(self.horizon), "split": self.split,
                **{k: (getattr(self, k).isoformat() if getattr(self, k) else "") for k in self._DATES}}

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> TrainingRecord | None:
        needed = ("dataset", "label_definition", "label_rule", "split", "seen_through", "test_from", "test_to")
        if any(k not in tags for k in needed):
            return None
        dates = {k: date.fromisoformat(tags[k]) if tags.get(k) else None for k in cls._DATES}
        return cls(tags["dataset"], tags.get("dataset_hash", ""), tags["label_definition"], tags["label_rule"],
                   tags["split"], horizon=int(tags.get("label_horizon") or 1), **dates)

    @classmethod
    def from_snapshot(cls, engine: Engine, snapshot: Snapshot) -> TrainingRecord:
        from finsent.data.labels import load_definition
        from finsent.db import raw_connection

        seen = pd.concat([snapshot.part("train"), snapshot.part("valid")])
        last = seen.groupby("ticker")["session_date"].max().to_dict()
        with raw_connection(engine) as raw, raw.cursor() as cur:
            definition = load_definition(cur, snapshot.spec["definition"])
            reach = _label_reach(cur, last, definition.horizon)
        test = snapshot.session_span("test")
        return cls(snapshot.name, snapshot.content_hash, snapshot.spec["definition"], definition.rule,
                   snapshot.spec["split"], max(last.values()) if last else None, test[0] if test else None,
                   test[1] if test else None, definition.horizon, reach)

    def ineligible_because(self) -> str | None:
        if self.label_rule not in TRADABLE_RULES:
            return _NOT_TRADABLE.get(self.label_rule, f"label rule {self.label_rule!r} is not tradable: only "
                                                      f"{', '.join(TRADABLE_RULES)} is eligible")
        if self.split != "time":
            return f"snapshot {self.dataset!r} is a {self.split} split: only time splits are eligible"
        return None


def _label_reach(cur, last_by_ticker: dict[str, date], horizon: int) -> date | None:
    """The latest trading session that a horizon-``horizon`` label of each ticker's last training
    session reaches: its own session plus horizon - 1 more of that ticker's sessions (the label's
    calendar, ``sessions``). None when the calendar does not go that far (unknown, so no test of it)."""
    if not last_by_ticker:
        return None
    if horizon == 1:
        return max(last_by_ticker.values())
    cur.execute("""
        SELECT bool_and(t.trade_date IS NOT NULL), max(t.trade_date)
        FROM unnest(%s::text[], %s::date[]) AS l(ticker, last_date)
        LEFT JOIN sessions s ON s.ticker = l.ticker AND s.trade_date = l.last_date
        LEFT JOIN sessions t ON t.ticker = l.ticker AND t.session_no = s.session_no + %s - 1""",
                (list(last_by_ticker), list(last_by_ticker.values()), horizon))
    complete, reach = cur.fetchone()
    return reach if complete else None


def record_from_rows(engine: Engine, dataset: str, dataset_hash: str) -> TrainingRecord | None:
    """A version's record read from ``dataset_rows``, when its snapshot is still the one it trained on."""
    from finsent.db import raw_connection

    query = """
        SELECT ds.content_hash, ds.spec->>'definition', ds.spec->>'split', ld.rule, coalesce(ld.horizon, 1),
               min(r.session_date) FILTER (WHERE r.split = 'test'), max(r.session_date) FILTER (WHERE r.split = 'test')
        FROM datasets ds JOIN dataset_rows r ON r.dataset = ds.name
        LEFT JOIN label_definitions ld ON ld.name = ds.spec->>'definition'
        WHERE ds.name = %s GROUP BY 1, 2, 3, 4, 5"""
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute(query, (dataset,))
        row = cur.fetchone()
        if row is None or row[0] != dataset_hash:
            return None
        cur.execute("SELECT ticker, max(session_date) FROM dataset_rows WHERE dataset = %s "
                    "AND split IN ('train', 'valid') GROUP BY ticker", (dataset,))
        last = dict(cur.fetchall())
        reach = _label_reach(cur, last, row[4])
    return TrainingRecord(dataset, row[0], row[1], row[3] or "", row[2], max(last.values()) if last else None,
                          row[5], row[6], row[4], reach)


def in_sample_sessions(record: TrainingRecord | None, sessions: pd.Series) -> list[date] | None:
    """The test sessions a version may have seen (on or before its label reach), sorted; None when
    its record cannot tell."""
    if record is None or record.reach is None:
        return None
    return sorted({d for d in sessions if d <= record.reach})


@dataclass
class ChampionDecision:
    promoted: bool
    reason: str
    p_value: float | None = None
    previous: int | None = None
    attempt: int | None = None  # since the last champion; None: an ineligible version spends nothing
    alpha: float | None = None  # the level this attempt's tests ran at

    @property
    def verdict(self) -> str:
        """``promoted``, ``not promoted`` or ``ineligible``: the run's ``finsent.verdict`` tag."""
        return "promoted" if self.promoted else ("ineligible" if self.attempt is None else "not promoted")


def decide(record: TrainingRecord, report: EvaluationReport, test: pd.DataFrame, p_new: np.ndarray,
           champion: tuple[int, TrainingRecord | None, np.ndarray] | None, *, attempt: int = 1) -> ChampionDecision:
    """The rule of the module docstring. ``champion``: (version, its record, its P(up) on ``test``),
    or None when there is no champion yet; ``attempt``: how many attempts since the champion last
    changed, this one included (``finsent.ml.attempts.count_attempts``)."""
    previous = champion[0] if champion else None
    why_not = record.ineligible_because()
    if why_not:
        return ChampionDecision(False, f"not eligible: {why_not}", previous=previous)
    alpha, bar = spending_alpha(attempt), threshold_text(attempt)
    refused = _not_comparable(record, champion[0], champion[1]) if champion else None
    if refused:
        return ChampionDecision(False, refused, previous=previous, attempt=attempt, alpha=alpha)
    if not report.has_verdict:  # no test is reported, so nothing is spent (``train`` did not count it)
        return ChampionDecision(False, f"not eligible: {report.verdict()}", previous=previous)
    p_skill = float(report.tests.get("p_value_balanced_accuracy", 1.0))
    skilled = bool(report.shows_skill and p_skill < alpha)
    if champion is None:
        if skilled:
            return ChampionDecision(True, f"first champion: {report.verdict()} ({bar})", p_skill, None, attempt, alpha)
        return ChampionDecision(False, f"no champion yet: {report.verdict()} ({bar})", p_skill, None, attempt, alpha)
    version, _, p_old = champion
    if not skilled:
        return ChampionDecision(False, f"challenger shows no skill of its own: {report.verdict()} ({bar})", p_skill,
                                version, attempt, alpha)
    y = (test["label"].to_numpy() == "up").astype(np.int64)
    clusters = Clusters.of(test["ticker"], test["session_date"])
    gain, p_value = paired_test((p_new > 0.5) == y, (p_old > 0.5) == y, clusters)
    promoted = bool(gain > 0 and p_value < alpha)
    reason = (f"skill of its own (balanced-accuracy p = {p_skill:.3g}); accuracy {gain:+.4f} vs champion "
              f"v{version} on {clusters.n_sessions} sessions after both trained, paired test clustered by session "
              f"p = {p_value:.3g} ({bar})")
    return ChampionDecision(promoted, reason, p_value, version, attempt, alpha)


def _not_comparable(record: TrainingRecord, version: int, old: TrainingRecord | None) -> str | None:
    """Why this test part cannot compare the challenger with champion ``version``, or None."""
    if old is None:
        return (f"champion v{version} records no training span: cannot check that this test part is new to it; "
                "promote by hand if intended")
    if old.definition != record.definition:
        return f"label definition {record.definition!r} differs from champion v{version}'s {old.definition!r}"
    reaches = [r.reach for r in (old, record)]
    if any(r is None for r in reaches):
        return (f"the last session the labels of v{version} or this version reached is unknown (horizon "
                f"{max(old.horizon, record.horizon)}): cannot check that this test part is new to both")
    reach = max(reaches)
    seen = max(d for d in (old.seen_through, record.seen_through) if d is not None)
    if record.test_from is None or record.test_from <= reach:
        return (f"test part starts {record.test_from}, not after {reach}, the last session whose price either "
                f"model's training labels used (seen through {seen}, horizon {max(old.horizon, record.horizon)})")
    return None
