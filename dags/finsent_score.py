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
into the `models` volume (README, Models).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from finsent.orchestration.airflow_support import CHAMPION, DEFAULT_ARGS, LABELS, SENTIMENT, START

PARAMS = {"batch_size": Param(256, type="integer", minimum=1, description="posts per forward pass of the model")}


@dag(dag_id="finsent_score", schedule=(LABELS | CHAMPION), start_date=START, catchup=False, max_active_runs=1,
     default_args=DEFAULT_ARGS, params=PARAMS, tags=["finsent", "score"], doc_md=__doc__)
def finsent_score():
    @task
    def find_champion() -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from finsent.orchestration.tasks import find_champion

        champion = find_champion()
        if champion["version"] is None:
            raise AirflowSkipException("no champion yet: nothing to score until finsent_train promotes one")
        return champion

    @task.branch
    def route(champion: dict) -> str:
        return "score_on_gpu" if champion["queue"] == "gpu" else "score_on_cpu"

    @task(outlets=[SENTIMENT])
    def score_on_cpu(champion: dict, params=None) -> dict:
        from finsent.orchestration.tasks import score_and_index

        return score_and_index(champion["version"], params["batch_size"])

    @task(queue="gpu", outlets=[SENTIMENT])
    def score_on_gpu(champion: dict, params=None) -> dict:
        from finsent.orchestration.tasks import score_and_index

        return score_and_index(champion["version"], params["batch_size"])

    champion = find_champion()
    route(champion) >> [score_on_cpu(champion), score_on_gpu(champion)]


finsent_score()
