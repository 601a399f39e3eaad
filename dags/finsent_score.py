"""
### finsent_score: the daily sentiment index

**What**: after new labels, or when the champion changes, scores every post that has no score
from the champion's version and rebuilds the daily sentiment index per stock and session
(posts before the session's open; quality-flagged posts left out). Emits the `daily_sentiment`
asset. The "Sentiment" page in the Airflow UI shows the result. Scoring runs where the model
runs: a LoRA champion on the `gpu` queue (the GPU worker, with the base model in its `models`
volume), the TF-IDF baseline on the default queue.

**Reads / writes**: MLflow `models:/finsent-updown@champion`; Postgres `posts`, `post_flags` →
`post_scores`, `daily_sentiment`.

**Owner**: finsent. **Triage**: a skipped run means there is no champion yet: run `finsent_train`.
Scoring commits in batches, so a retry continues where it stopped. Out of GPU memory: trigger with
a smaller `batch_size` (posts per forward pass). "not in the hub cache": pre-fetch the base model
into the `models` volume (README, Models). Parameters: the options of `finsent score` (`alias`,
default `champion`, and `batch_size`), with the same names, defaults and bounds
(`finsent.ml.spec.ScoreSpec`); a wrong one fails the run at its first task with the option's message.
"""

from __future__ import annotations

from dataclasses import replace

from airflow.sdk import dag, task

from finsent.ml.spec import ScoreSpec
from finsent.orchestration.airflow_support import CHAMPION, DEFAULT_ARGS, LABELS, SENTIMENT, START, params_of

PARAMS = params_of(ScoreSpec)  # the options of `finsent score`, declared once


@dag(dag_id="finsent_score", schedule=(LABELS | CHAMPION), start_date=START, catchup=False, max_active_runs=1,
     default_args=DEFAULT_ARGS, params=PARAMS, tags=["finsent", "score"], doc_md=__doc__)
def finsent_score():
    @task
    def find_champion(params=None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from finsent.orchestration.tasks import find_version, spec_from_params

        spec = spec_from_params(ScoreSpec, params)  # once, at the start: a wrong param fails here
        found = find_version(spec)
        if found["version"] is None:
            raise AirflowSkipException(f"no version @{spec.alias} yet: nothing to score until finsent_train "
                                       "promotes one")
        return found

    @task.branch
    def route(champion: dict) -> str:
        return "score_on_gpu" if champion["queue"] == "gpu" else "score_on_cpu"

    def score(champion: dict, params: dict) -> dict:
        from finsent.orchestration.tasks import score_and_index, spec_from_params

        # the version found first, even if the alias has moved since (it was routed to its queue)
        spec = replace(spec_from_params(ScoreSpec, params), alias=str(champion["version"]))
        return score_and_index(spec)

    @task(outlets=[SENTIMENT])
    def score_on_cpu(champion: dict, params=None) -> dict:
        return score(champion, params)

    @task(queue="gpu", outlets=[SENTIMENT])
    def score_on_gpu(champion: dict, params=None) -> dict:
        return score(champion, params)

    champion = find_champion()
    route(champion) >> [score_on_cpu(champion), score_on_gpu(champion)]


finsent_score()
