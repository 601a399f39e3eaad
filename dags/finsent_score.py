"""
### finsent_score: the daily sentiment index

**What**: after new labels, or when a champion changes, scores every post that has no score
from the board champion's version (`finsent-updown`) and every news article that has none from
the news champion's (`finsent-news-updown`), every comment likewise by the comments champion's
(`finsent-comments-updown`), and brings the daily sentiment index of each source
up to date per stock and session (posts or articles before the session's open; quality-flagged
ones left out; a news story counts once). A source without a champion yet is skipped. Emits the
`daily_sentiment` asset. The "Sentiment" page in the Airflow UI shows the result. Scoring runs
where the model runs: a LoRA champion on the `gpu` queue (the GPU worker, with the base model in
its `models` volume), the TF-IDF baseline on the default queue (`score_on_*` for the board,
`score_news_on_*` for news, `score_comments_on_*` for comments).

**Reads / writes**: MLflow `models:/finsent-updown@champion`, `models:/finsent-news-updown@champion`,
`models:/finsent-comments-updown@champion`; Postgres `posts`, `post_flags`, `news`, `news_flags`, `comments`,
`comment_flags` → `post_scores`, `news_scores`, `comment_scores`, `daily_sentiment`.

**Owner**: finsent. **Triage**: a skipped run means there is no champion of either yet: run `finsent_train`.
Scoring commits in batches, so a retry continues where it stopped. Out of GPU memory: trigger with
a smaller `batch_size` (posts per forward pass). "not in the hub cache": pre-fetch the base model
into the `models` volume (docs/methodology/models.md). Parameters: the options of `finsent score` (`alias`,
`news_alias`, `comments_alias`, default `champion`, `source`, default `both`, and `batch_size`), with the same
names, defaults and bounds
(`finsent.ml.spec.ScoreSpec`); a wrong one fails the run at its first task with the option's message.
"""

from __future__ import annotations

from dataclasses import replace

from airflow.sdk import dag, task

from finsent.data.sources import TEXT_SOURCES, TextSource, selected, text_source
from finsent.ml.spec import ScoreSpec
from finsent.orchestration.airflow_support import (
    CHAMPION,
    DEFAULT_ARGS,
    FAILURE_ALERT,
    LABELS,
    SENTIMENT,
    START,
    params_of,
)

PARAMS = params_of(ScoreSpec)  # the options of `finsent score`, declared once
QUEUES = {"cpu": {}, "gpu": {"queue": "gpu"}}  # where a source's scoring runs: its model's queue


def task_id(source: TextSource, where: str) -> str:
    """score_on_cpu for the board (its tasks keep their names), score_news_on_gpu, ..."""
    return f"score_{source.prefix}on_{where}"


@dag(dag_id="finsent_score", schedule=(LABELS | CHAMPION), start_date=START, catchup=False, max_active_runs=1,
     default_args=DEFAULT_ARGS, on_failure_callback=FAILURE_ALERT, params=PARAMS, tags=["finsent", "score"],
     doc_md=__doc__)
def finsent_score():
    @task
    def find_champion(params=None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from finsent.orchestration.tasks import find_version, spec_from_params

        spec = spec_from_params(ScoreSpec, params)  # once, at the start: a wrong param fails here
        found = {source.name: find_version(spec, source.name) for source in selected(spec.source)}
        if all(f["version"] is None for f in found.values()):
            wanted = " nor ".join(f"@{getattr(spec, text_source(name).alias_option)} ({name})" for name in found)
            raise AirflowSkipException(f"no version {wanted} yet: nothing to score until finsent_train promotes one")
        return found

    @task.branch
    def route(champions: dict) -> list[str]:
        """Each source with a version, on its model's queue."""
        return [task_id(text_source(source), "gpu" if found["queue"] == "gpu" else "cpu")
                for source, found in champions.items() if found["version"] is not None]

    def scorer(source: TextSource):
        def score(champions: dict, params=None) -> dict:
            from finsent.orchestration.tasks import score_and_index, spec_from_params

            # the version found first, even if the alias has moved since (it was routed to its queue)
            version = str(champions[source.name]["version"])
            spec = replace(spec_from_params(ScoreSpec, params), **{source.alias_option: version})
            return score_and_index(spec, source.name)

        return score

    champions = find_champion()
    route(champions) >> [task(task_id=task_id(source, where), outlets=[SENTIMENT], **queue)(scorer(source))(champions)
                         for source in TEXT_SOURCES.values() for where, queue in QUEUES.items()]


finsent_score()
