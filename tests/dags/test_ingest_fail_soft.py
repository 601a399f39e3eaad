"""finsent_ingest fails soft: prices run when a crawl failed, the run then fails naming the tickers."""

from __future__ import annotations

from airflow.utils.state import DagRunState, TaskInstanceState

from tests.data.board import query


def test_a_failed_crawl_does_not_cost_anyone_their_prices(dagbag, engine, naver, monkeypatch):
    monkeypatch.setenv("FINSENT_TICKERS", "005930,000660")
    naver.robots_txt = "User-agent: *\nDisallow: /front-api/\n"  # every crawl fails, at once and for good
    dag = dagbag.get_dag("finsent_ingest")
    assert dag.get_task("prices").trigger_rule == "all_done" and dag.get_task("outcome").trigger_rule == "all_done"

    dag_run = dag.test(logical_date=None)
    states = {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == DagRunState.FAILED
    assert states[("crawl", 0)] == states[("crawl", 1)] == TaskInstanceState.FAILED
    assert states[("prices", -1)] == TaskInstanceState.SUCCESS
    assert states[("outcome", -1)] == TaskInstanceState.FAILED
    assert query(engine, "SELECT count(DISTINCT ticker) FROM prices")[0][0] == 2  # everyone's prices are in
    assert query(engine, "SELECT count(*) FROM posts")[0][0] == 0
    # robots.txt was asked once per crawl process and the board never: no retries against the site
    assert not [path for path, _ in naver.requests_log if path.startswith("/front-api/")]
    assert query(engine, "SELECT count(*) FROM crawl_runs WHERE command = 'crawl'")[0][0] == 2
    # the news crawls ran beside the board's, untouched by its failure
    assert states[("crawl_news", 0)] == states[("crawl_news", 1)] == TaskInstanceState.SUCCESS
    assert query(engine, "SELECT count(DISTINCT ticker) FROM news")[0][0] == 2


def test_a_failed_news_crawl_fails_soft_too(dagbag, engine, naver, monkeypatch):
    monkeypatch.setenv("FINSENT_TICKERS", "005930,000660")
    naver.robots_txt = "User-agent: *\nDisallow: /api/news/\n"
    dag_run = dagbag.get_dag("finsent_ingest").test(logical_date=None)
    states = {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == DagRunState.FAILED
    assert states[("crawl_news", 0)] == states[("crawl_news", 1)] == TaskInstanceState.FAILED
    assert states[("crawl", 0)] == states[("crawl", 1)] == TaskInstanceState.SUCCESS
    assert states[("prices", -1)] == TaskInstanceState.SUCCESS and states[("outcome", -1)] == TaskInstanceState.FAILED
    assert query(engine, "SELECT count(DISTINCT ticker) FROM posts")[0][0] == 2
    assert query(engine, "SELECT count(*) FROM news")[0][0] == 0
    assert query(engine, "SELECT count(*) FROM crawl_runs WHERE command = 'crawl-news' "
                         "AND status = 'failed'")[0][0] == 2


def test_the_label_dag_waits_for_both_posts_and_prices(dagbag):
    from finsent.orchestration.airflow_support import NEWS, POSTS, PRICES

    ingest, label = dagbag.get_dag("finsent_ingest"), dagbag.get_dag("finsent_label")
    assert not ingest.get_task("crawl").outlets  # crawls end one by one; the assets wait for prices
    assert not ingest.get_task("crawl_news").outlets
    assert set(ingest.get_task("prices").outlets) == {POSTS, NEWS, PRICES}
    condition = repr(label.timetable.asset_condition)
    assert all(asset.uri.rstrip("/") in condition for asset in (POSTS, NEWS, PRICES)), condition
    assert "&" in repr(label.timetable.asset_condition) or type(label.timetable.asset_condition).__name__ == "AssetAll"


def test_a_price_fetch_failed_past_the_client_retries_is_retried_by_airflow(dagbag, engine, naver, monkeypatch):
    """The soak's 5xx day: prices that fail once (more 502s than the client retries) were never retried,
    and ``outcome`` failed the run for good; the prices task now fails while it has tries left."""
    from datetime import timedelta

    monkeypatch.setenv("FINSENT_TICKERS", "005930,000660")
    monkeypatch.setenv("FINSENT_HTTP_RETRIES", "1")
    naver.inject("/sise.nhn", "status", times=2, code=502)  # the first stock's first try, both requests
    dag = dagbag.get_dag("finsent_ingest")
    for task in dag.tasks:
        task.retry_delay, task.retry_exponential_backoff = timedelta(0), False
    dag_run = dag.test(logical_date=None)
    tries = {ti.task_id: ti.try_number for ti in dag_run.get_task_instances() if ti.map_index == -1}
    assert dag_run.state == DagRunState.SUCCESS and tries["prices"] == 2
    assert query(engine, "SELECT count(DISTINCT ticker) FROM prices")[0][0] == 2


def test_prices_failing_on_every_try_still_reach_the_labels_for_the_others(dagbag, engine, naver, monkeypatch):
    from datetime import timedelta

    monkeypatch.setenv("FINSENT_TICKERS", "005930,000660")
    monkeypatch.setenv("FINSENT_HTTP_RETRIES", "0")
    dag = dagbag.get_dag("finsent_ingest")
    for task in dag.tasks:
        task.retries, task.retry_delay, task.retry_exponential_backoff = 1, timedelta(0), False
    naver.inject("/sise.nhn", "status", times=3, code=502)  # one request per stock and try: both, then the first
    dag_run = dag.test(logical_date=None)
    states = {ti.task_id: (ti.state, ti.try_number) for ti in dag_run.get_task_instances() if ti.map_index == -1}
    # the last try stores what it can and succeeds (its assets start the labels); outcome names the stock
    assert states["prices"] == (TaskInstanceState.SUCCESS, 2) and states["outcome"][0] == TaskInstanceState.FAILED
    assert dag_run.state == DagRunState.FAILED
    assert query(engine, "SELECT count(DISTINCT ticker) FROM prices")[0][0] == 1
