"""Counting training attempts, and the significance each attempt may spend.

Every ``finsent train`` (the CLI and the ``finsent_train`` DAG alike) is an attempt, and every
attempt on a board without signal is a fresh chance of a false champion: 50 weekly tries at
p < 0.024 each (every one tested as a first try) made one within the year in 56% of the
simulated years of ``tests/ml/test_promotion.py``. So the tests of an attempt run at a level that shrinks with the
number of attempts since the champion last changed (**alpha-spending**):

    alpha_k = 0.04 * 6 / (pi^2 k^2)        (k = 1, 2, 3, ...: 0.0243, 0.0061, 0.0027, 0.0015, ...)

Since sum_k 6 / (pi^2 k^2) = 1, the levels add up to 0.04 over any number of attempts, and by the
union bound the chance that *any* attempt on a no-skill board makes a champion is at most 0.04,
whatever the dependence between attempts (weekly snapshots share most of their test sessions).
Why 0.04 and not 0.05: the session-clustered tests are held to rejecting at most 6% at a nominal
5% (the small-sample tolerance of ``finsent.ml.stats``), i.e. up to 1.2 times their level, and
1.2 * 0.04 < 0.05 keeps the promise "at most 5% false champions, however many tries" even then.
The schedule front-loads the budget: the first attempt gets 61% of it (a real signal is still found
on a first try). The price is honest: after many failed tries the bar is high (attempt 50: p < 1e-5).

**A bar a test can clear.** The sign-flip test of a test part with B units (its session dates, or
blocks of h dates for h-session labels; ``finsent.ml.overlap``) can give p down to 2^-B, counted
exactly, so attempt k can be passed by a test part of at least B > log2(1 / alpha_k) = 2 log2 k + 5.4
units (``units_to_reach``): 17 at attempt 50, 24 at attempt 500, 40 (the most the exact test uses:
2^-40 = 9e-13) at attempt 163,000, three thousand years of weekly training. A test part with fewer
units cannot pass whatever the model, so such an attempt spends nothing and is not counted
(``cannot_reach``; like a test part too short for any verdict): the count, and the bar, wait for
the test part to grow, and a strong signal on enough dates still passes after any number of
failures up to attempt 163,000.

An attempt is a run tagged ``finsent.step=train`` for the registered model, started after the
champion last changed (the champion version's registration time; with no champion, the newest
version that was ever promoted; with neither, the beginning). Runs that crashed before their
verdict count too, and so do deleted runs (conservative). Runs whose snapshot could never be
promoted (``finsent.eligible=false``, known before anything is fitted: a label that is not
tradable, a random split) spend nothing and do not count.
"""

from __future__ import annotations

import math

from finsent.errors import FinsentError
from finsent.ml.overlap import MAX_FLIP_UNITS, n_blocks, smallest_p

TOTAL_ALPHA = 0.04  # not 0.05: see the module docstring
SEARCH_PAGE = 1000


def spending_alpha(attempt: int, total: float = TOTAL_ALPHA) -> float:
    """The level the ``attempt``-th attempt since the last champion may test at."""
    if attempt < 1:
        raise ValueError(f"attempts count from 1, got {attempt}")
    return total * 6 / (math.pi ** 2 * attempt ** 2)


def threshold_text(attempt: int) -> str:
    """How the train log and the decision state the bar, e.g. "attempt 3 since the last champion:
    needs p < 0.0034"."""
    return f"attempt {attempt} since the last champion: needs p < {spending_alpha(attempt):.2g}"


def units_to_reach(attempt: int) -> int | None:
    """The fewest sign-flip units whose smallest p (2^-B) is below attempt ``attempt``'s level;
    None beyond MAX_FLIP_UNITS (no test part can reach it)."""
    units = math.floor(-math.log2(spending_alpha(attempt))) + 1
    return units if units <= MAX_FLIP_UNITS else None


def cannot_reach(attempt: int, n_sessions: int, horizon: int = 1) -> str | None:
    """Why no model can pass attempt ``attempt`` on a test part of ``n_sessions`` dates with
    ``horizon``-session labels (its smallest p is not below alpha_k), or None when one can."""
    alpha, floor = spending_alpha(attempt), smallest_p(n_sessions, horizon)
    if floor < alpha:
        return None
    units, h = units_to_reach(attempt), max(1, horizon)
    blocks = f" ({n_blocks(n_sessions, h)} blocks of {h})" if h > 1 else ""
    need = (f"it needs at least {(units - 1) * h + 1} session dates" if units is not None else
            f"no test part can: the exact test stops at {MAX_FLIP_UNITS} units")
    return (f"at attempt {attempt} since the last champion no model can pass on this test part: its {n_sessions} "
            f"session dates{blocks} give p >= {floor:.2g}, not below alpha_{attempt} = {alpha:.2g}; {need}")


def last_champion_change(client, model_name: str) -> int:
    """Milliseconds since the epoch when the champion last changed, as far as the registry tells:
    the champion version's registration (an operator's later move of the alias only makes the
    count larger); with no champion, the newest version ever promoted; else 0."""
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name = '{model_name}'")
        champion = client.get_registered_model(model_name).aliases.get("champion") if versions else None
    except MlflowException as exc:
        raise FinsentError(f"the MLflow registry failed to list versions of {model_name}: {exc}") from exc
    if champion is not None:
        return int(next(v.creation_timestamp for v in versions if str(v.version) == str(champion)))
    promoted = [int(v.creation_timestamp) for v in versions if v.tags.get("promoted") == "true"]
    return max(promoted, default=0)


def count_attempts(client, model_name: str, run_id: str) -> int:
    """How many attempts since the last champion change, the run ``run_id`` (this one) included."""
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException

    since = last_champion_change(client, model_name)
    seen: set[str] = set()
    try:
        experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
        query = f"tags.`finsent.step` = 'train' AND attributes.start_time >= {since}"
        token = None
        while True:
            page = client.search_runs(experiments, query, run_view_type=ViewType.ALL, max_results=SEARCH_PAGE,
                                      page_token=token)
            seen.update(r.info.run_id for r in page if _counts(r.data.tags, model_name))
            token = page.token
            if not token:
                break
    except MlflowException as exc:
        raise FinsentError(f"the MLflow tracking server failed to list training runs: {exc}") from exc
    return len(seen | {run_id})


def _counts(tags: dict[str, str], model_name: str) -> bool:
    # a run from before attempts were tagged has no model name: there was only ever this model
    return tags.get("finsent.model_name", model_name) == model_name and tags.get("finsent.eligible") != "false"
