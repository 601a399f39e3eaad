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
the time). An attempt whose test part cannot reach alpha_k (too few dates: its smallest p, 2^-B,
is not below it) cannot promote anything, so it spends nothing (``attempts.cannot_reach``).

**The horizon.** Labels over h sessions make neighbouring test dates share h - 1 sessions, so both
tests below flip blocks of h consecutive dates, allowing for the covariance of neighbouring blocks
(``finsent.ml.overlap``), and a verdict needs 10 such blocks. The evaluation must have been made
with the horizon of the version's own labels (``EvaluationReport.horizon``), or nothing is decided.

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

import numpy as np
import pandas as pd

from finsent.data.labels import TRADABLE_LABEL_RULES
from finsent.ml.attempts import TOTAL_ALPHA, cannot_reach, spending_alpha, threshold_text
from finsent.ml.evaluate import EvaluationReport
from finsent.ml.lineage import TrainingRecord
from finsent.ml.stats import Clusters, paired_test

log = logging.getLogger(__name__)

_NOT_TRADABLE = {
    "next_session": "next_session pays for the overnight gap: not tradable (part of a close-to-close move is "
                    "public after the close); train on a next_open_close snapshot",
    "same_day": "same_day is not forward-looking: it reproduces the study and is never eligible",
}


def ineligible_because(record: TrainingRecord) -> str | None:
    """Why a version trained on ``record`` can never be champion (its label rule or split), or None."""
    if record.label_rule not in TRADABLE_LABEL_RULES:  # the move the book can earn
        return _NOT_TRADABLE.get(record.label_rule, f"label rule {record.label_rule!r} is not tradable: only "
                                                    f"{', '.join(TRADABLE_LABEL_RULES)} is eligible")
    if record.split != "time":
        return f"snapshot {record.dataset!r} is a {record.split} split: only time splits are eligible"
    return None


@dataclass
class ChampionDecision:
    promoted: bool
    reason: str
    p_value: float | None = None
    previous: int | None = None
    attempt: int | None = None  # since the last champion; None: an ineligible version spends nothing
    alpha: float | None = None  # the level this attempt's tests ran at

    @property
    def attempt_text(self) -> str:
        """The train output's line on what this attempt spent."""
        if self.attempt is None:
            return "this attempt spends nothing (it could never promote; see the decision)"
        return (f"attempt {self.attempt} since the last champion: its tests ran at alpha_{self.attempt} = "
                f"{self.alpha:.3g} (the levels of all attempts add up to {TOTAL_ALPHA:g})")

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
    why_not = ineligible_because(record)
    if why_not:
        return ChampionDecision(False, f"not eligible: {why_not}", previous=previous)
    if report.horizon != record.horizon:
        return ChampionDecision(False, f"not eligible: the evaluation took its labels to span {report.horizon} "
                                f"session(s), but {record.definition!r} spans {record.horizon}", previous=previous)
    refused = _not_comparable(record, champion[0], champion[1]) if champion else None
    also = f"; and {refused}" if refused else ""
    if not report.has_verdict:  # no test is reported, so nothing is spent (``train`` did not count it)
        return ChampionDecision(False, f"not eligible: {report.verdict()}{also}", previous=previous)
    unreachable = cannot_reach(attempt, int(report.counts["n_sessions"]), record.horizon)
    if unreachable:  # no p can be below alpha_k: nothing is spent (``train`` did not count it)
        return ChampionDecision(False, f"not eligible: {unreachable}{also}", previous=previous)
    alpha, bar = spending_alpha(attempt), threshold_text(attempt)
    if refused:
        return ChampionDecision(False, refused, previous=previous, attempt=attempt, alpha=alpha)
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
    clusters = Clusters.of(test["ticker"], test["session_date"], record.horizon)
    gain, p_value = paired_test((p_new > 0.5) == y, (p_old > 0.5) == y, clusters)
    promoted = bool(gain > 0 and p_value < alpha)
    units = "session" if record.horizon == 1 else f"blocks of {record.horizon} sessions"
    reason = (f"skill of its own (balanced-accuracy p = {p_skill:.3g}); accuracy {gain:+.4f} vs champion "
              f"v{version} on {clusters.n_sessions} sessions after both trained, paired test clustered by {units} "
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
