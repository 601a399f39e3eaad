"""
### finsent_label: labels and quality flags

**What**: once `finsent_ingest` has stored the posts, the news and the prices of a run, flags new posts with the quality
rules (spam, politics, duplicates, clean-bot, ...) and labels every post that has no label yet
under every standard definition, `next_open_close` (tradable: the open to the close of the post's
session) and `next_session` (close to close: not tradable, part of the move is public after the
close), and under `same_day` (the 2023 study's, for comparison).
Emits the `labels` asset, which starts `finsent_score`.

News articles get the same labels (`news_labels`) and their own quality flags (`news_flags`: a
story carried by several offices counts once, market summaries are flagged); so do comments
(`comment_labels`, at the time each was written; `comment_flags`: empty, spam, copies).

**Reads / writes**: Postgres `posts`, `news`, `comments`, `prices` → `post_quality`, `post_flags`, `labels`,
`news_flags`, `news_labels`, `comment_flags`, `comment_labels`.

**Why**: labels must be written only once a later price exists, and only from prices after the
post; running on both assets keeps them current without guessing. Labels whose prices changed (a
split rewrote the history, a late session) are relabelled in the same transaction; a SHARE lock on
`prices` makes sure no price write is missed while the labels are computed.

**Owner**: finsent. **Triage**: the task is one SQL transaction per step; a failure leaves nothing
half-written, so fix the cause (usually the database) and clear the task. `finsent quality report`
shows what the rules flag.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from finsent.orchestration.airflow_support import DEFAULT_ARGS, FAILURE_ALERT, LABELS, NEWS, POSTS, PRICES, START


@dag(dag_id="finsent_label", schedule=(POSTS & NEWS & PRICES), start_date=START, catchup=False, max_active_runs=1,
     default_args=DEFAULT_ARGS, on_failure_callback=FAILURE_ALERT, tags=["finsent", "labels"], doc_md=__doc__)
def finsent_label():
    @task(outlets=[LABELS])
    def label_and_flag() -> dict:
        from finsent.orchestration.tasks import label_and_flag as run

        return run()

    label_and_flag()


finsent_label()
