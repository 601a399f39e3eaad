"""Train, evaluate, register and score on a CPU with a tiny GPT-NeoX and a sqlite MLflow.

The promotion tests here need the tradable label (``next_open_close``, the snapshots' default)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime

import numpy as np
import pytest
from mlflow import MlflowClient

from finsent.cli import main
from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from finsent.data.labels import LabelDefinition, label_posts
from finsent.data.snapshots import load_split
from finsent.errors import FinsentError
from finsent.ml.attempts import threshold_text
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.registry import MODEL_NAME, configure, load_pyfunc, predict, tracking_uri
from finsent.ml.score import score_posts
from finsent.ml.spec import ScoreSpec
from finsent.ml.train import train_model
from finsent.orchestration.tasks import score_and_index
from tests.data.board import add_posts, add_prices, post, query
from tests.ml.board import VERDICT_SPEC, make_board


def lora_spec(tiny_model) -> TransformerSpec:
    return TransformerSpec(base_model=str(tiny_model), prompt="zero-shot", epochs=4, batch_size=32, lr=5e-3, lora_r=16,
                    warmup_steps=10, device="cpu")


def aliases(client) -> dict[str, int]:
    return {a: int(v) for a, v in client.get_registered_model(MODEL_NAME).aliases.items()}


def test_baseline_and_tiny_lora_beat_chance_on_a_planted_signal(engine, planted, tiny_model):
    settings = load_settings()
    baseline = train_model(settings, engine, planted, "baseline")
    assert baseline.report.metrics["accuracy"] > 0.6
    assert baseline.report.tests["p_value_vs_half"] < 0.05
    assert baseline.report.tests["p_value_balanced_accuracy"] < 0.05
    assert baseline.decision.promoted and baseline.version == 1
    lora = train_model(settings, engine, planted, "lora", transformer=lora_spec(tiny_model))
    assert lora.report.tests["p_value_vs_half"] < 0.05, lora.report.metrics
    for name in ("majority", "previous_session", "baseline"):
        assert name in lora.report.baselines
    run = MlflowClient(tracking_uri(settings)).get_run(lora.run_id)
    assert run.data.tags["dataset"] == planted and len(run.data.tags["dataset_hash"]) == 64
    assert {"test_accuracy", "test_mcc", "test_roc_auc", "test_brier", "test_log_loss", "test_ece",
            "test_p_value_vs_half", "test_p_value_balanced_accuracy", "test_n_posts", "test_n_clusters",
            "test_n_sessions", "baseline_majority_test_accuracy"} <= set(run.data.metrics)
    # every choice was made on valid: the kept step and the calibration
    assert run.data.params["calibration"] == "platt" and int(run.data.params["best_step"]) > 0
    artifacts = {a.path for a in MlflowClient(tracking_uri(settings)).list_artifacts(lora.run_id, "plots")}
    assert {"plots/confusion_matrix.png", "plots/calibration.png", "plots/sentiment_index.png"} <= artifacts


def test_shuffled_signal_beats_neither(engine, tiny_model):
    make_board(engine, planted=False, seed=2)
    build_dataset(engine, "noise", VERDICT_SPEC, load_settings().data_dir)
    settings = load_settings()
    for kind in ("baseline", "lora"):
        outcome = train_model(settings, engine, "noise", kind, transformer=lora_spec(tiny_model))
        assert outcome.report.tests["p_value_balanced_accuracy"] >= 0.05, (kind, outcome.report.metrics)
        assert not outcome.report.shows_skill and "no evidence of skill" in outcome.report.to_markdown()


def test_no_skill_no_champion_and_a_failed_run_registers_nothing(engine, tiny_model):
    settings = load_settings()
    make_board(engine, planted=False, seed=3)  # no signal
    build_dataset(engine, "noise", VERDICT_SPEC, settings.data_dir)
    first = train_model(settings, engine, "noise", "baseline")
    client = configure(settings)
    assert not first.decision.promoted and aliases(client) == {"challenger": 1}
    assert first.decision.reason.startswith("no champion yet: no evidence of skill")
    tags = client.get_model_version(MODEL_NAME, "1").tags
    assert tags["promoted"] == "false" and tags["champion_decision"] == first.decision.reason
    assert tags["split"] == "time" and tags["label_rule"] == "next_open_close"
    assert tags["seen_through"] < tags["test_from"]
    assert tags["finsent.attempt"] == "1" and tags["finsent.verdict"] == "not promoted"
    # scoring waits for a champion and says why
    assert score_and_index()["model_version"] is None
    # a failed run registers nothing and moves nothing
    bad = TransformerSpec(base_model=str(settings.data_dir / "not-a-model"), device="cpu")
    with pytest.raises(FinsentError):
        train_model(settings, engine, "noise", "lora", transformer=bad)
    assert aliases(client) == {"challenger": 1}
    assert len(client.search_model_versions(f"name = '{MODEL_NAME}'")) == 1


def test_promotion_is_fair(engine, planted):
    settings = load_settings()
    client = configure(settings)
    first = train_model(settings, engine, planted, "baseline")
    assert first.decision.promoted and first.decision.reason.startswith("first champion: evidence of skill")
    assert aliases(client) == {"champion": 1, "challenger": 1}
    assert "attempt 1 since the last champion" in first.decision.reason
    # the same model on the same test part: skill of its own, but no gain: challenger only
    again = train_model(settings, engine, planted, "baseline")
    assert not again.decision.promoted and "paired test" in again.decision.reason
    assert threshold_text(1) in again.decision.reason  # the count started again at the new champion
    # a close-to-close label pays for the overnight gap: never eligible, however good it looks
    build_dataset(engine, "gap", DatasetSpec(definition="next_session"), settings.data_dir)
    gap = train_model(settings, engine, "gap", "baseline")
    assert not gap.decision.promoted and "next_session pays for the overnight gap: not tradable" in gap.decision.reason
    # the study's random split and same-day labels are never eligible, however good they look
    build_dataset(engine, "shuffled", DatasetSpec.from_options(split="random", test_frac=0.2), settings.data_dir)
    shuffled = train_model(settings, engine, "shuffled", "baseline")
    assert not shuffled.decision.promoted and "random split" in shuffled.decision.reason
    label_posts(engine, LabelDefinition.build("same_day"))
    build_dataset(engine, "same_day", DatasetSpec(definition="same_day"), settings.data_dir)
    same_day = train_model(settings, engine, "same_day", "baseline")
    assert not same_day.decision.promoted and "not forward-looking" in same_day.decision.reason
    # a test part the champion trained on is no test of it
    (last_seen,) = query(engine, "SELECT max(session_date) FROM dataset_rows WHERE dataset = :d "
                                 "AND split <> 'test'", d=planted)[0]
    build_dataset(engine, "earlier", DatasetSpec(end=last_seen), settings.data_dir)
    earlier = train_model(settings, engine, "earlier", "baseline")
    assert not earlier.decision.promoted and "not after" in earlier.decision.reason
    assert aliases(client)["champion"] == 1


def test_pyfunc_loads_in_a_fresh_offline_process_with_the_same_probabilities(engine, planted, tiny_model):
    settings = load_settings()
    outcome = train_model(settings, engine, planted, "lora", transformer=lora_spec(tiny_model))
    titles = load_split(engine, planted, "test")["title"].head(40).tolist()
    expected = predict(load_pyfunc(outcome.version), titles)
    code = ("import json, sys, mlflow, pandas as pd; mlflow.set_tracking_uri(sys.argv[1]); "
            f"m = mlflow.pyfunc.load_model('models:/{MODEL_NAME}/{outcome.version}'); "
            "print(json.dumps(m.predict(pd.DataFrame({'title': json.loads(sys.argv[2])}))['p_up'].tolist()))")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "NO_PROXY": "*",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-c", code, tracking_uri(settings), json.dumps(titles)], env=env,
                          check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    assert np.allclose(got, expected, atol=1e-6)


def test_scoring_twice_adds_nothing_and_builds_the_daily_index(engine, planted):
    settings = load_settings()
    # a next_session model is never champion (not tradable): scored by its version number
    version = str(train_model(settings, engine, planted, "baseline").version)
    first = score_posts(settings, engine, ScoreSpec(alias=version, batch_size=500))
    total_posts = query(engine, "SELECT count(*) FROM posts")[0][0]
    assert first.scored == total_posts and first.index_rows > 0
    again = score_posts(settings, engine, ScoreSpec(alias=version))
    assert again.scored == 0
    assert query(engine, "SELECT count(*) FROM post_scores")[0][0] == total_posts
    ((n_posts, sessions),) = query(engine, "SELECT sum(n_posts), count(DISTINCT session_date) FROM daily_sentiment")
    flagged = query(engine, "SELECT count(DISTINCT (ticker, post_id)) FROM post_flags")[0][0]
    assert n_posts == total_posts - flagged and sessions > 50


def test_the_daily_index_counts_a_post_before_the_late_csat_open_for_that_day(engine, planted):
    settings = load_settings()
    version = train_model(settings, engine, planted, "baseline").version
    # 2024-11-14 was the CSAT day: the KRX opened at 10:00 (session_hours), not 09:00
    add_prices(engine, "035420", {date(2024, 11, 13): 100, date(2024, 11, 14): 101, date(2024, 11, 15): 102})
    add_posts(engine, [post("035420", datetime(2024, 11, 14, 9, 30), "매수 가즈아", post_id=1),
                       post("035420", datetime(2024, 11, 14, 10, 0), "손절 떡락", post_id=2)])
    score_posts(settings, engine, ScoreSpec(alias=str(version)))
    rows = query(engine, "SELECT session_date, n_posts FROM daily_sentiment WHERE ticker = '035420' ORDER BY 1")
    assert rows == [(date(2024, 11, 14), 1), (date(2024, 11, 15), 1)]
    # the same session as the labels give those posts
    label_posts(engine, LabelDefinition.build("next_open_close"))
    assert query(engine, "SELECT post_id, session_date FROM labels WHERE ticker = '035420' AND definition = "
                         "'next_open_close' ORDER BY 1") == [(1, date(2024, 11, 14)), (2, date(2024, 11, 15))]


@pytest.mark.parametrize("args, message", [
    (["train", "--dataset", "missing"], "no dataset snapshot named 'missing'"),
    (["train", "--dataset", "planted", "--model", "lora", "--base-model", "/nonexistent/model"],
     "is neither a local model directory nor a hub id"),
    (["train", "--dataset", "planted", "--model", "lora", "--device", "cuda"], "no CUDA device"),
    (["train", "--dataset", "planted", "--model", "lora", "--quantize", "4bit", "--device", "cpu"], "needs CUDA"),
    (["score"], "no version 'champion'"),
])
def test_bad_model_input_is_a_clear_error(engine, planted, args, message, caplog):
    assert main(args) != 0
    assert message in caplog.text
    assert query(engine, "SELECT count(*) FROM post_scores") == [(0,)]


def test_a_directory_that_is_not_a_model_is_refused(engine, planted, tmp_path, caplog):
    (tmp_path / "empty").mkdir()
    assert main(["train", "--dataset", "planted", "--model", "lora", "--base-model", str(tmp_path / "empty"),
                 "--device", "cpu"]) == 2
    assert "is not a loadable model" in caplog.text
