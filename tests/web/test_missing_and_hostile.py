"""The pages render whatever MLflow has lost and whatever the tickers table holds (issue 32 #4, #13):
a champion or backtest whose MLflow run is gone (deleted and garbage-collected, or logged to another
store) is named as missing, not a 500 for everyone; a ticker name's bidi controls are dropped; an
MLflow UI URL's credentials never reach an href."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow import MlflowClient

from finsent.config import load_settings
from finsent.ml.registry import MODEL_NAME, tracking_uri
from finsent.ml.score import score_posts
from finsent.ml.train import train_model
from finsent.web.models import render_models_page
from finsent.web.page import View, render_sentiment_page


def collect_garbage(settings, run_id: str) -> None:
    """Delete the run and let `mlflow gc` remove it for good (what an operator's cleanup does)."""
    uri = tracking_uri(settings)
    MlflowClient(uri).delete_run(run_id)
    done = subprocess.run([sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", uri, "--run-ids", run_id],
                          check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with pytest.raises(Exception, match=r"(?i)not found|does not exist|no run"):
        MlflowClient(uri).get_run(run_id)


@pytest.fixture
def champion(engine, planted) -> int:
    settings = load_settings()
    trained = train_model(settings, engine, planted, "baseline")
    assert trained.decision.promoted
    score_posts(settings, engine)
    return trained.version


def test_a_champion_whose_run_is_gone_is_named_not_a_500(engine, champion):
    settings = load_settings()
    client = MlflowClient(tracking_uri(settings))
    run_id = client.get_model_version(MODEL_NAME, str(champion)).run_id
    collect_garbage(settings, run_id)
    page = render_sentiment_page(engine, settings, view=View(ticker="005930"))  # the stock's page: its section
    assert f"champion: <b>finsent-updown v{champion}</b>" in page
    assert f"its MLflow run {run_id} is missing" in page  # said, with what is missing
    assert "<section id=\"s005930\">" in page  # the data is still shown
    models = render_models_page(settings)
    assert f"<tr><td>v{champion}" in models and f"run {run_id} is missing" in models


def test_a_backtest_whose_run_is_gone_is_named(engine, champion):
    from finsent.ml.backtest import run_backtest
    from finsent.ml.backtest.walk import BacktestSpec
    from tests.data.board import query

    settings = load_settings()
    run_backtest(settings, engine, "walk", BacktestSpec(train_sessions=20, step_sessions=10))
    ((run_id,),) = query(engine, "SELECT mlflow_run_id FROM backtests WHERE name = 'walk'")
    collect_garbage(settings, run_id)
    page = render_sentiment_page(engine, settings)
    assert "backtest <b>walk</b>" in page and f"its MLflow run {run_id} is missing" in page


def test_a_ticker_name_with_bidi_controls_and_an_mlflow_url_with_credentials(engine, champion, monkeypatch):
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE tickers SET name = %s WHERE code = '005930'",
                             ("삼성\u202e자전\u202c\u2066x\u2069",))
    monkeypatch.setenv("FINSENT_MLFLOW_UI_URL", "https://admin:s3cret-pw@mlflow.example.org:8443/mlflow")
    settings = load_settings()
    page = render_sentiment_page(engine, settings)
    for control in "\u202e\u202c\u2066\u2069":
        assert control not in page
    assert "삼성자전x" in page
    assert "s3cret-pw" not in page and "admin:" not in page
    assert f'href="https://mlflow.example.org:8443/mlflow/#/models/{MODEL_NAME}/versions/{champion}"' in page
