"""Today's bases, offline: a tiny random checkpoint of each family (gpt_neox, llama, qwen3; bert,
electra, deberta-v2, modernbert), with its own kind of tokenizer (byte-level BPE, SentencePiece-style,
WordPiece), goes through `finsent train` with default options only, the registry, an offline pyfunc
load in a fresh process, scoring, a walk-forward backtest and an interrupted-and-resumed fit."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from finsent.cli import main
from finsent.config import load_settings
from finsent.data.snapshots import load_split
from finsent.ml.backtest import run_backtest
from finsent.ml.backtest.walk import BacktestSpec
from finsent.ml.models import load_classifier, new_classifier
from finsent.ml.models.hf import training
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.hf.targets import default_targets
from finsent.ml.models.tiny import TINY_FAMILIES, make_tiny_model
from finsent.ml.registry import MODEL_NAME, load_pyfunc, predict, tracking_uri
from finsent.ml.score import score_posts
from finsent.ml.spec import ScoreSpec
from finsent.web.models import render_models_page
from tests.data.board import query
from tests.ml.board import BEAR, BULL, NEUTRAL, make_board

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "NO_PROXY": "*",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
TITLES = ["삼성 가즈아 떡상", "손절 떡락 하한가", "오늘 점심 뭐 먹지", "외인 매수 반등"] * 4


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Path]:
    corpus = [" ".join(random.Random(i).sample(BULL + BEAR + NEUTRAL, 4)) for i in range(500)]
    root = tmp_path_factory.mktemp("families")
    return {family: make_tiny_model(root / family, corpus, family=family) for family in TINY_FAMILIES}


# (kind, family, options beyond --base-model, --device cpu and --max-steps): each kind, each kind of
# tokenizer (byte-level BPE, SentencePiece-style, WordPiece); gpt_neox LoRA is tests/ml/test_train.py's,
# and every family saves and loads in test_a_saved_model_of_each_family_loads_with_the_same_probabilities
TRAINED = [("lora", "qwen3", []), ("prompt", "llama", ["--prompt", "k-shot"]), ("encoder", "bert", []),
           ("encoder", "deberta-v2", ["--finetune", "full"])]


def serve_offline(versions: list[int], titles: list[str]) -> dict[str, list[float]]:
    code = ("import json, sys, mlflow, pandas as pd; mlflow.set_tracking_uri(sys.argv[1]); "
            "print(json.dumps({v: mlflow.pyfunc.load_model(f'models:/" + MODEL_NAME + "/{v}').predict("
            "pd.DataFrame({'title': json.loads(sys.argv[2])}))['p_up'].tolist() for v in json.loads(sys.argv[3])}))")
    done = subprocess.run([sys.executable, "-c", code, tracking_uri(load_settings()), json.dumps(titles),
                           json.dumps(versions)], env={**os.environ, **OFFLINE}, check=False, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(1200)  # four training runs, one serving process: minutes on a busy 2-core machine
def test_every_kind_and_family_trains_with_defaults_registers_serves_offline_and_scores(engine, planted, bases):
    settings = load_settings()
    for kind, family, options in TRAINED:
        assert main(["train", "--dataset", planted, "--model", kind, "--base-model", str(bases[family]),
                     "--device", "cpu", "--max-steps", "2", *options]) == 0, (kind, family)
    client = MlflowClient(tracking_uri(settings), tracking_uri(settings))
    versions = sorted(client.search_model_versions(f"name = '{MODEL_NAME}'"), key=lambda v: int(v.version))
    assert [(v.tags["model"], Path(v.tags["base_model"]).name) for v in versions] == \
        [(kind, family) for kind, family, _ in TRAINED]
    for (kind, family, options), version in zip(TRAINED, versions):
        params = client.get_run(version.run_id).data.params
        if kind == "prompt":
            assert "lora_targets" not in params and "best_step" not in params  # nothing trained
        elif "full" not in options:  # LoRA: the targets of the architecture table, logged with the run
            assert params["lora_targets"] == ",".join(default_targets(family)), (kind, family)
            assert params["lora_targets_from"] == f"attention of {family}"
    titles = load_split(engine, planted, "test")["title"].head(12).tolist()
    here = {str(v.version): predict(load_pyfunc(int(v.version)), titles) for v in versions}
    served = serve_offline([int(v.version) for v in versions], titles)
    for number, p_up in served.items():
        assert np.allclose(p_up, here[number], atol=1e-5), number
    report = score_posts(settings, engine, ScoreSpec(alias=versions[2].version, batch_size=64))  # the encoder
    assert report.scored == query(engine, "SELECT count(*) FROM posts")[0][0] and report.index_rows > 0
    page = render_models_page(settings)  # kinds and bases side by side on the same frozen test
    assert f"{len(TRAINED)} version(s) of <b>{MODEL_NAME}</b> on the test part of the frozen snapshot" in page
    for kind, family, _ in TRAINED:
        assert f"{kind} · {family}" in page


@pytest.mark.parametrize(("kind", "family", "finetune"),
                         [("encoder", "bert", "full"), ("encoder", "deberta-v2", "lora"), ("lora", "qwen3", "lora")])
def test_an_interrupted_fit_resumes_to_the_same_weights(bases, tmp_path, monkeypatch, kind, family, finetune):
    labels = np.array([1, 0, 0, 1] * 4)
    spec = TransformerSpec(base_model=str(bases[family]), device="cpu", finetune=finetune, max_steps=5, batch_size=4,
                           checkpoint_dir=str(tmp_path / "ckpt"), save_every=2, prompt="zero-shot")
    whole = new_classifier(kind, spec)
    whole.fit(TITLES, labels)
    real_step, calls = training._step, []

    def dies_at_step_4(run, batch):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # as a killed job: the checkpoint of step 2 stays
        return real_step(run, batch)

    monkeypatch.setattr(training, "_step", dies_at_step_4)
    with pytest.raises(KeyboardInterrupt):
        new_classifier(kind, spec).fit(TITLES, labels)
    monkeypatch.setattr(training, "_step", real_step)
    assert (tmp_path / "ckpt" / "last" / "trained.safetensors").is_file()
    resumed = new_classifier(kind, spec)
    resumed.fit(TITLES, labels)
    assert not (tmp_path / "ckpt" / "last").exists()
    assert np.abs(resumed.predict_proba(TITLES) - whole.predict_proba(TITLES)).max() < 1e-6


def test_encoder_and_prompt_walks_forward_resumed_in_chunks_as_one_run(engine, bases):
    make_board(engine, planted=True, sessions=24, per_session=6)
    settings = load_settings()
    scores = "SELECT ticker, post_id, p_up FROM backtest_scores WHERE backtest = :b ORDER BY 1, 2"
    for kind, family in (("encoder", "electra"), ("prompt", "llama")):
        spec = BacktestSpec(model=kind, train_sessions=10, step_sessions=6,
                            transformer=TransformerSpec(base_model=str(bases[family]), max_steps=2, batch_size=8,
                                                        device="cpu", prompt="k-shot", shots=2, seed=3))
        whole, _ = run_backtest(settings, engine, f"whole-{kind}", spec)
        report = None
        while report is None:
            _, report = run_backtest(settings, engine, f"parts-{kind}", spec, steps_per_run=1)
        assert len(whole.steps) >= 2
        stored = query(engine, scores, b=f"whole-{kind}")
        assert stored and stored == query(engine, scores, b=f"parts-{kind}")


def test_a_saved_model_of_each_family_loads_with_the_same_probabilities(bases, tmp_path):
    labels = np.array([1, 0, 0, 1] * 4)
    for kind, family in (("lora", "llama"), ("lora", "gpt_neox"), ("prompt", "gpt_neox"), ("encoder", "electra"),
                         ("encoder", "modernbert")):
        model = new_classifier(kind, TransformerSpec(base_model=str(bases[family]), device="cpu", max_steps=1,
                                                     batch_size=8))
        model.fit(TITLES, labels)
        model.save(tmp_path / f"{kind}-{family}")
        assert (tmp_path / f"{kind}-{family}" / "base" / "config.json").is_file()  # a small local base travels along
        loaded = load_classifier(tmp_path / f"{kind}-{family}", device="cpu")
        assert loaded.kind == kind
        assert np.abs(loaded.predict_proba(TITLES) - model.predict_proba(TITLES)).max() < 1e-6
