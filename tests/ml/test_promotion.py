"""The champion rule on its own: tradable labels only, counted tries (alpha-spending) whose bar a
test part can clear, a challenger with skill of its own, the horizon in the overlap rule and in the
tests. decide() is fed real evaluations."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finsent.ml.attempts import cannot_reach, spending_alpha, threshold_text, units_to_reach
from finsent.ml.evaluate import EvaluationReport, evaluate_predictions
from finsent.ml.lineage import TrainingRecord, in_sample_sessions
from finsent.ml.overlap import MAX_FLIP_UNITS, smallest_p
from finsent.ml.promotion import decide
from finsent.ml.stats import Clusters, balanced_accuracy_test

DAYS = [d for d in (date(2024, 1, 1) + timedelta(days=k) for k in range(400)) if d.weekday() < 5]


def record(rule: str = "next_open_close", *, seen: int = 40, test_from: int = 60, horizon: int = 1,
           reach: int | None = None, definition: str | None = None) -> TrainingRecord:
    return TrainingRecord("snap", "hash", definition or rule, rule, "time", DAYS[seen], DAYS[test_from],
                          DAYS[test_from + 29], horizon, DAYS[reach] if reach is not None else None)


def board(rng, sessions: int = 30, stocks: int = 3, per_cluster: int = 5, first: int = 60) -> pd.DataFrame:
    """Labels shared per (stock, session), stocks moving together on a date."""
    rows = []
    for s in range(sessions):
        market = rng.normal()
        for t in range(stocks):
            up = market + rng.normal() > 0
            rows += [{"ticker": f"00{t}000", "session_date": DAYS[first + s], "label": "up" if up else "down",
                      "ret": 0.01 if up else -0.01, "previous_session_up": 0.5}] * per_cluster
    return pd.DataFrame(rows)


def predictions(rng, test: pd.DataFrame, hit_rate: float) -> np.ndarray:
    """P(up) that is right with probability ``hit_rate`` per post."""
    up = (test["label"] == "up").to_numpy()
    right = rng.random(len(test)) < hit_rate
    return np.where(up == right, 0.7, 0.3)


def report_of(test: pd.DataFrame, p: np.ndarray, horizon: int = 1) -> EvaluationReport:
    return evaluate_predictions("m", test, p, 0.5, {}, horizon=horizon)


def test_the_spending_schedule_adds_up_to_its_total_and_is_stated():
    levels = [spending_alpha(k) for k in range(1, 200_001)]
    assert sum(levels) == pytest.approx(0.04, abs=1e-6) and sum(levels) < 0.04
    assert levels[0] > 0.6 * 0.04 and all(a > b for a, b in itertools.pairwise(levels))
    assert threshold_text(3) == "attempt 3 since the last champion: needs p < 0.0027"
    with pytest.raises(ValueError):
        spending_alpha(0)


def test_only_tradable_labels_are_promoted():
    rng = np.random.default_rng(0)
    test = board(rng)
    p = predictions(rng, test, 0.9)
    report = report_of(test, p)
    assert report.shows_skill
    assert decide(record(), report, test, p, None).promoted
    gap = decide(record("next_session"), report, test, p, None)
    assert not gap.promoted and gap.verdict == "ineligible" and gap.attempt is None
    assert "next_session pays for the overnight gap: not tradable" in gap.reason
    same_day = decide(record("same_day"), report, test, p, None)
    assert not same_day.promoted and "not forward-looking" in same_day.reason
    random_split = TrainingRecord("r", "h", "next_open_close", "next_open_close", "random", None, None, None)
    assert "random split" in decide(random_split, report, test, p, None).reason


def test_the_bar_rises_with_the_attempts_since_the_last_champion():
    rng = np.random.default_rng(1)
    test = board(rng)
    p = predictions(rng, test, 0.62)  # some skill: p far below 0.05, not below attempt 30's level
    report = report_of(test, p)
    p_skill = report.tests["p_value_balanced_accuracy"]
    first = decide(record(), report, test, p, None, attempt=1)
    late = next(k for k in range(1, 10_000) if spending_alpha(k) < p_skill)
    assert first.promoted and first.alpha == spending_alpha(1) and "attempt 1 since the last champion" in first.reason
    refused = decide(record(), report, test, p, None, attempt=late)
    assert not refused.promoted and refused.verdict == "not promoted"
    assert refused.reason.startswith("no champion yet:") and threshold_text(late) in refused.reason


@pytest.mark.parametrize(("sessions", "horizon"), [(20, 1), (200, 5)])
def test_fifty_failed_attempts_then_a_perfect_model_is_champion(sessions, horizon):
    """The audit's defect: Monte Carlo flips gave p >= 1/5000, above every level from attempt 12 on,
    so after 11 failures nothing could ever be promoted. Exact p: a perfect model on 20 dates
    (2^-20) passes attempt 51 (p < 9.3e-6); so does one on 200 dates of horizon-5 labels (40 blocks,
    whose sum is shrunk by the covariance of neighbouring blocks before it is compared)."""
    rng = np.random.default_rng(11)
    test = board(rng, sessions=sessions)
    tradable = record(horizon=horizon, definition=f"noc_h{horizon}")
    attempt = 0
    for _ in range(50):
        coin = predictions(rng, test, 0.5)
        decision = decide(tradable, report_of(test, coin, horizon), test, coin, None, attempt=attempt + 1)
        assert not decision.promoted and decision.verdict == "not promoted"
        attempt = decision.attempt
    assert attempt == 50 and spending_alpha(51) < 1 / 5000
    perfect = np.where(test["label"] == "up", 0.9, 0.1)
    report = report_of(test, perfect, horizon)
    assert report.tests["p_value_balanced_accuracy"] < spending_alpha(51)
    if horizon == 1:
        assert report.tests["p_value_balanced_accuracy"] == 2.0 ** -20
    champion = decide(tradable, report, test, perfect, None, attempt=51)
    assert champion.promoted and champion.attempt == 51 and "attempt 51 since the last champion" in champion.reason


def test_an_attempt_whose_test_part_cannot_reach_its_level_spends_nothing():
    """10 dates give p >= 2^-10 = 0.00098, not below attempt 5's 0.00097: whatever the model, that
    attempt cannot promote, so it is not counted (the bar waits for the test part to grow)."""
    rng = np.random.default_rng(12)
    test = board(rng, sessions=10)
    perfect = np.where(test["label"] == "up", 0.9, 0.1)
    report = report_of(test, perfect)
    assert decide(record(), report, test, perfect, None, attempt=4).promoted
    refused = decide(record(), report, test, perfect, None, attempt=5)
    assert not refused.promoted and refused.verdict == "ineligible" and refused.attempt is None
    assert "no model can pass on this test part" in refused.reason and "at least 11 session dates" in refused.reason
    assert "spends nothing" in refused.attempt_text
    # horizon 5: 60 dates are 12 blocks, p >= 2^-12 = 0.000244: attempt 10 (alpha 0.000243) is out of reach
    assert "(12 blocks of 5)" in (cannot_reach(10, 60, 5) or "") and not cannot_reach(9, 60, 5)


def test_the_documented_promise_a_strong_signal_still_passes_after_any_number_of_failures():
    """docs/methodology/champion.md ("When the champion moves"): attempt k can be passed by a test
    part of at least 2 log2 k + 5.4 units: 17 at attempt 50, 24 at attempt 500, up to attempt 163,000 (2^-40); a
    test part too short for attempt k spends nothing. Checked for every k up to 163,000."""
    assert (units_to_reach(50), units_to_reach(500), units_to_reach(163_000)) == (17, 24, MAX_FLIP_UNITS)
    assert units_to_reach(164_000) is None and cannot_reach(164_000, 10_000)
    for k in range(1, 163_001):
        units = units_to_reach(k)
        assert units is not None and units <= 2 * np.log2(k) + 6.4
        assert smallest_p(units) < spending_alpha(k) <= smallest_p(units - 1)
    page = Path(__file__).resolve().parents[2] / "docs" / "methodology" / "champion.md"
    docs = " ".join(page.read_text(encoding="utf-8").split())
    assert "the level never reaches 0" not in docs
    assert "17 at attempt 50, 24 at attempt 500" in docs and "163,000" in docs


def test_a_challenger_must_show_skill_of_its_own_and_beat_the_champion():
    rng = np.random.default_rng(2)
    test = board(rng)
    bad_champion = predictions(rng, test, 0.3)
    always_up = np.full(len(test), 0.6)  # beats a bad champion on accuracy, with no skill at all
    champion = (1, record(seen=30, test_from=40), bad_champion)
    no_skill = decide(record(), report_of(test, always_up), test, always_up, champion)
    assert not no_skill.promoted and no_skill.reason.startswith("challenger shows no skill of its own")
    skilled = predictions(rng, test, 0.85)
    wins = decide(record(), report_of(test, skilled), test, skilled, champion)
    assert wins.promoted and "paired test" in wins.reason and wins.previous == 1
    # the same skill against a champion that is as good: no gain, no promotion
    equal = decide(record(), report_of(test, skilled), test, skilled, (1, record(seen=30, test_from=40), skilled))
    assert not equal.promoted and "needs p <" in equal.reason


def test_the_overlap_rule_adds_the_horizon():
    rng = np.random.default_rng(3)
    test = board(rng, first=63)
    p = predictions(rng, test, 0.85)
    report = report_of(test, p, horizon=3)
    # the champion trained through session 60 with horizon-3 labels: they reach session 62
    champion = (4, record("next_open_close", seen=60, test_from=70, horizon=3, reach=62, definition="noc_h3"),
                predictions(rng, test, 0.5))
    touching = record("next_open_close", seen=50, test_from=62, horizon=3, reach=52, definition="noc_h3")
    refused = decide(touching, report, test, p, champion)
    assert not refused.promoted and f"not after {DAYS[62]}" in refused.reason and "horizon 3" in refused.reason
    after = record("next_open_close", seen=50, test_from=63, horizon=3, reach=52, definition="noc_h3")
    assert decide(after, report, test, p, champion).promoted
    # seen_through alone (horizon ignored) would have let the touching test part through
    assert touching.test_from > champion[1].seen_through
    unknown = record("next_open_close", seen=50, test_from=63, horizon=3, reach=None, definition="noc_h3")
    assert "unknown" in decide(unknown, report, test, p, champion).reason


def test_in_sample_sessions_include_the_horizon():
    sessions = pd.Series(DAYS[58:66])
    assert in_sample_sessions(record(seen=60, horizon=3, reach=62), sessions) == DAYS[58:63]
    assert in_sample_sessions(record(seen=40), sessions) == []
    assert in_sample_sessions(record(seen=60, horizon=3), sessions) is None  # reach unknown
    assert in_sample_sessions(None, sessions) is None


def test_tags_round_trip():
    original = record("next_open_close", seen=60, test_from=70, horizon=3, reach=62)
    assert TrainingRecord.from_tags(original.tags()) == original
    old_tags = {k: v for k, v in record().tags().items() if k not in ("label_horizon", "label_reach")}
    assert TrainingRecord.from_tags(old_tags).reach == DAYS[40]  # a horizon-1 version from before these tags


# --- 50 weekly attempts on a board without signal ----------------------------------------------

YEARS, WEEKS, FIRST_SESSIONS, NEW_SESSIONS_A_WEEK, TEST_FRAC, STOCKS = 400, 50, 150, 5, 0.1, 3


def _weekly_year(rng, mode: str, tradable: TrainingRecord) -> tuple[bool, bool]:
    """One year of weekly training on a growing no-skill board: (a champion with the attempts
    counted, a champion if every attempt were a first one)."""
    total = FIRST_SESSIONS + NEW_SESSIONS_A_WEEK * (WEEKS - 1)
    move = rng.normal(size=(total, 1)) + rng.normal(size=(total, STOCKS)) + 0.1  # stocks move together
    posts = 1 + rng.poisson(3, size=(total, STOCKS))
    stable = rng.normal(size=(total, STOCKS if mode != "date" else 1))  # a retrained model barely changes
    counted = uncounted = False
    for week in range(WEEKS):
        n = FIRST_SESSIONS + NEW_SESSIONS_A_WEEK * week
        sessions = np.arange(n - round(TEST_FRAC * n), n)  # the snapshot's test part: its latest sessions
        score = stable[sessions] + 0.5 * rng.normal(size=(len(sessions), stable.shape[1])) + rng.normal(0, 0.5)
        score = np.broadcast_to(score, (len(sessions), STOCKS)).ravel()
        sizes = posts[sessions].ravel()
        session_of = np.repeat(np.repeat(sessions, STOCKS), sizes)
        stock_of = np.repeat(np.tile(np.arange(STOCKS), len(sessions)), sizes)
        y = (move[session_of, stock_of] > 0).astype(np.int64)
        raw = rng.normal(size=len(y)) if mode == "post" else np.repeat(score, sizes)
        p_up = 1 / (1 + np.exp(-raw))
        clusters = Clusters.of(stock_of, session_of)
        balanced, p_value = balanced_accuracy_test(y, p_up, clusters)
        report = EvaluationReport("weekly", clusters.counts(), {"balanced_accuracy": balanced}, {},
                                  {"p_value_balanced_accuracy": p_value})
        counted = counted or decide(tradable, report, None, p_up, None, attempt=week + 1).promoted
        uncounted = uncounted or decide(tradable, report, None, p_up, None, attempt=1).promoted
    return counted, uncounted


def test_weekly_attempts_on_a_board_without_signal_rarely_make_a_champion():
    """400 simulated years of 50 weekly trainings each (test part: the latest 10% of a board that
    starts at 150 sessions and grows by 5 a week; 3 stocks moving together; predictions with no
    skill, constant per (stock, session), per date or per post, mostly stable from week to week)."""
    rng = np.random.default_rng(20240601)
    tradable = record()
    years = [_weekly_year(rng, ("cluster", "date", "post")[k % 3], tradable) for k in range(YEARS)]
    counted = np.mean([c for c, _ in years])
    uncounted = np.mean([u for _, u in years])
    assert counted <= 0.05, counted
    assert uncounted > 0.3, uncounted  # without counting, a false champion within the year is likely
