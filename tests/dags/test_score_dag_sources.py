"""finsent_score scores each source that has a champion, each on its model's queue: news alone while
only the news model has a champion, then the board beside it."""

from __future__ import annotations

from dataclasses import replace

from finsent.config import load_settings
from finsent.data.build import build_dataset
from finsent.ml.registry import NEWS_MODEL_NAME, configure
from finsent.ml.train import train_model
from tests.dags.test_dag_runs import run
from tests.data.board import query
from tests.ml.board import VERDICT_SPEC, make_board
from tests.ml.news_board import make_news

TASKS = ("score_on_cpu", "score_on_gpu", "score_news_on_cpu", "score_news_on_gpu")


def states(dag_run) -> dict[str, str]:
    found = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    return {task: found[task] for task in TASKS}


def test_the_score_dag_scores_each_source_with_a_champion(dagbag, engine):
    settings = load_settings()
    make_board(engine, planted=True)
    make_news(engine)
    build_dataset(engine, "news-planted", replace(VERDICT_SPEC, source="news"), settings.data_dir)
    train_model(settings, engine, "news-planted", "baseline")
    configure(settings).set_registered_model_alias(NEWS_MODEL_NAME, "champion", "1")
    news_only = run(dagbag, "finsent_score")
    assert states(news_only) == {"score_on_cpu": "skipped", "score_on_gpu": "skipped",
                                 "score_news_on_cpu": "success", "score_news_on_gpu": "skipped"}
    assert query(engine, "SELECT count(*) FROM news_scores") == query(engine, "SELECT count(*) FROM news")
    assert query(engine, "SELECT DISTINCT source FROM daily_sentiment") == [("news",)]
    build_dataset(engine, "planted", VERDICT_SPEC, settings.data_dir)
    assert train_model(settings, engine, "planted", "baseline").decision.promoted
    both = run(dagbag, "finsent_score")
    assert states(both) == {"score_on_cpu": "success", "score_on_gpu": "skipped",
                            "score_news_on_cpu": "success", "score_news_on_gpu": "skipped"}
    assert query(engine, "SELECT source, model_version FROM daily_sentiment GROUP BY 1, 2 ORDER BY 1") == [
        ("board", 1), ("news", 1)]
