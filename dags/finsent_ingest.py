"""
### finsent_ingest: discussion-board posts, their comments, news headlines and daily prices into Postgres

**What**: every day after the KRX close (16:30 KST) crawls the discussion board (`crawl`: posts,
and the whole body of each post whose list body was cut) and the news headlines (`crawl_news`) of
each configured stock (`FINSENT_TICKERS`, one mapped task per ticker and source, at most
`FINSENT_NAVER_POOL_SLOTS` at once: the size of the `naver` pool), then the comment threads of the
last days' posts whose comment count grew (`crawl_comments`, CBOX), then fetches daily prices, also
when some crawls failed (`all_done`; a stock whose prices failed fails the task while it has retries left,
its last try stores what it can), then `outcome` fails the run naming every ticker whose board,
comment or news crawl or prices failed. `prices` emits the `posts`, `news` and `prices` assets
together, so `finsent_label` starts once all of a run are in.
Requests to one host stay `FINSENT_CRAWL_DELAY_S` apart across all tasks (a clock in Postgres):
the pool's slots bound concurrency only; `finsent crawl --plan` prints how long the day takes.
robots.txt is obeyed unless `FINSENT_ROBOTS=ignore`; a disallowed path fails the task once, without
retries.

**Reads / writes**: Naver (board JSON API and its post details, CBOX comments, news JSON, fchart
prices) → Postgres `posts`, `post_body_fetches`, `comments`, `comment_threads`, `news`, `prices`,
`crawl_watermarks`, `news_watermarks`, `crawl_runs`.

**Why**: the boards are the signal, the prices the labels; both must be complete and never
duplicated. Every page is committed with its watermark, so a failed or killed task loses nothing
and a retry resumes.

**Owner**: finsent. **Triage**: open the failed task's log; the last lines name the ticker, the
URL and the reason; `outcome` lists the failed tickers. `crawl_runs` (status `failed`) has the error
(`command` `crawl-news` for news, `crawl-comments` for comments; `rewritten`: a split rewrote a
ticker's adjusted history, the labels follow on their own); unparseable responses, and the pages of records
validation refused (`quarantined` in `crawl_runs`: the others were stored), are in
`$FINSENT_DATA_DIR/quarantine/` (a changed page layout needs a parser fix). A ticker failed with
"held off" was asked by the site (429) to wait longer than `FINSENT_HTTP_MAX_WAIT_S`: a retry later crawls it.
`locked` means another
crawl of that ticker was running. Network faults are retried with backoff, then by Airflow.
**Backfill**: `airflow backfill create --dag-id finsent_ingest --from-date 2026-01-05 --to-date
2026-01-09` re-walks each day's posts and re-fetches prices from it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from finsent.orchestration.airflow_support import (
    DEFAULT_ARGS,
    FAILURE_ALERT,
    NAVER_POOL,
    NAVER_POOL_SLOTS,
    NEWS,
    POSTS,
    PRICES,
    START,
)


@dag(dag_id="finsent_ingest", schedule="30 16 * * *", start_date=START, catchup=False, max_active_runs=1,
     default_args=DEFAULT_ARGS, on_failure_callback=FAILURE_ALERT, tags=["finsent", "ingest"], doc_md=__doc__)
def finsent_ingest():
    @task
    def tickers() -> list[str]:
        from finsent.orchestration.tasks import configured_tickers

        return configured_tickers()

    @task(pool=NAVER_POOL, max_active_tis_per_dagrun=NAVER_POOL_SLOTS, execution_timeout=timedelta(hours=1))
    def crawl(ticker: str, logical_date=None) -> dict:
        from finsent.orchestration.tasks import crawl_ticker

        return crawl_ticker(ticker, logical_date)

    @task(pool=NAVER_POOL, max_active_tis_per_dagrun=NAVER_POOL_SLOTS, execution_timeout=timedelta(hours=1))
    def crawl_news(ticker: str, logical_date=None) -> dict:
        from finsent.orchestration.tasks import crawl_news_ticker

        return crawl_news_ticker(ticker, logical_date)

    # all_done: a ticker's failed board crawl leaves the threads of its posts stored before to read
    @task(pool=NAVER_POOL, max_active_tis_per_dagrun=NAVER_POOL_SLOTS, trigger_rule="all_done",
          execution_timeout=timedelta(hours=1))
    def crawl_comments(ticker: str, logical_date=None) -> dict:
        from finsent.orchestration.tasks import crawl_comments_ticker

        return crawl_comments_ticker(ticker, logical_date)

    # all_done: one ticker's failed crawl must not cost every ticker its prices. The assets are
    # emitted here, after every crawl has ended, so the label DAG never runs between posts and prices.
    @task(pool=NAVER_POOL, outlets=[POSTS, NEWS, PRICES], trigger_rule="all_done",
          execution_timeout=timedelta(minutes=30))
    def prices(logical_date=None, ti=None) -> list[dict]:
        from finsent.orchestration.tasks import fetch_prices

        # a failed stock fails the task while it has tries left (a 5xx burst, a restarted database);
        # the last try succeeds with what it has, so the others' prices still reach the labels
        return fetch_prices(logical_date, retries_left=ti is not None and ti.try_number <= ti.max_tries)

    @task(trigger_rule="all_done", execution_timeout=timedelta(minutes=5))
    def outcome(dag_run=None) -> dict:
        from finsent.orchestration.tasks import ingest_outcome

        return ingest_outcome(getattr(dag_run, "start_date", None))

    codes = tickers()
    boards = crawl.expand(ticker=codes)
    comments = crawl_comments.expand(ticker=codes)
    boards >> comments
    [comments, crawl_news.expand(ticker=codes)] >> prices() >> outcome()


finsent_ingest()
