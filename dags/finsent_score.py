"""
### finsent_score: the daily sentiment index

**What**: after new labels, or when the champion changes, scores every post that has no score
from the champion's version and rebuilds the daily sentiment index per stock and session
(posts before the session's open; quality-flagged posts left out). Emits the `daily_sentiment`
asset. The "Sentiment" page in the Airflow UI shows the result.

**Reads / writes**: MLflow `models:/finsent-updown@champion`; Postgres `posts`, `post_flags` →
`post_scores`, `daily_sentiment`.

**Owner**: finsent. **Triage**: a skipped task means there is no champion yet: run `finsent_train`.
Scoring commits in batches, so a retry continues where it stopped.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from finsent.orchestration.airflow_support import CHAMPION, DEFAULT_ARGS, LABELS, SENTIMENT, START


@dag(dag_id="finsent_score", schedule=(LABELS | CHAMPION), start_date=START, catchup=False, max_active_runs=1,
     default_args=DEFAULT_ARGS, tags=["finsent", "score"], doc_md=__doc__)
def finsent_score():
    @task(outlets=[SENTIMENT])
    def score() -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from finsent.orchestration.tasks import score_and_index

        result = score_and_index()
        if result["model_version"] is None:
            raise AirflowSkipException("no champion yet: nothing to score until finsent_train promotes one")
        return result

    score()


finsent_score()
