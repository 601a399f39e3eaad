"""Models trained on news are registered as finsent-news-updown, with a champion of their own."""

from __future__ import annotations

from mlflow import MlflowClient

from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from finsent.ml.registry import MODEL_NAME, NEWS_MODEL_NAME, alias_version, configure, model_name
from finsent.ml.train import train_model
from tests.data.test_datasets import board  # noqa: F401 -- fixtures
from tests.data.test_news_datasets import news  # noqa: F401


def aliases(client: MlflowClient, name: str) -> dict[str, int]:
    return {alias: int(version) for alias, version in client.get_registered_model(name).aliases.items()}


def test_news_and_board_models_never_replace_each_other(engine, news):  # noqa: F811
    settings = load_settings()
    build_dataset(engine, "board-set", DatasetSpec(), settings.data_dir)
    build_dataset(engine, "news-set", DatasetSpec(source="news"), settings.data_dir)
    board_outcome = train_model(settings, engine, "board-set", "baseline")
    client = configure(settings)
    board_aliases = aliases(client, MODEL_NAME)
    news_outcome = train_model(settings, engine, "news-set", "baseline")
    assert news_outcome.version == 1  # the first version of its own registered model
    assert aliases(client, NEWS_MODEL_NAME)["challenger"] == 1
    assert aliases(client, MODEL_NAME) == board_aliases  # the board's champion and challenger did not move
    assert board_outcome.version == 1 and len(client.search_model_versions(f"name = '{MODEL_NAME}'")) == 1
    # a second board model is judged against the board's champion only, never the news one
    train_model(settings, engine, "board-set", "baseline")
    assert aliases(client, NEWS_MODEL_NAME)["challenger"] == 1
    assert alias_version(client, "champion", NEWS_MODEL_NAME) == aliases(client, NEWS_MODEL_NAME).get("champion")
    run = client.get_run(news_outcome.run_id)
    assert run.data.tags["finsent.model_name"] == NEWS_MODEL_NAME
    assert model_name(None) == MODEL_NAME and model_name("both") == "finsent-both-updown"
