"""``--tokenizer kiwi``: the TF-IDF baseline over Korean morphemes (kiwipiepy, offline)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from finsent.config import load_settings
from finsent.data.snapshots import load_snapshot
from finsent.errors import ConfigError
from finsent.ml.models import load_classifier
from finsent.ml.models.morphemes import analyzer, given, morphemes, prepared
from finsent.ml.registry import load_pyfunc, predict
from finsent.ml.spec import TrainSpec
from finsent.ml.train import train_model
from finsent.specs import from_values


def test_morphemes_carry_their_tags_and_their_pairs():
    tokens, empty = morphemes(["삼성 어떻게 보세요? 저는 내일 반등 봅니다", ""])
    assert "삼성/NNP" in tokens and "보/VX" in tokens and "세요/EF" in tokens
    assert any(" " in t for t in tokens) and empty == []  # pairs of neighbouring morphemes
    assert pickle.loads(pickle.dumps(analyzer("kiwi"))) is given
    assert analyzer("char") == "char_wb" and prepared(["a b"], "char") == ["a b"]
    with pytest.raises(ValueError):
        analyzer("mecab")
    with pytest.raises(ConfigError):
        from_values(TrainSpec, {"tokenizer": "mecab"})


def test_a_kiwi_baseline_trains_registers_and_serves(engine, planted):
    outcome = train_model(load_settings(), engine, planted, "baseline", tokenizer="kiwi")
    assert outcome.report.shows_skill, outcome.report.verdict()
    test = load_snapshot(engine, planted).part("test")
    served = predict(load_pyfunc(outcome.version), test)
    assert ((served > 0.5) == (test["label"] == "up")).mean() == pytest.approx(outcome.report.metrics["accuracy"])
    from mlflow import MlflowClient

    from finsent.ml.registry import tracking_uri

    run = MlflowClient(tracking_uri(load_settings())).get_run(outcome.run_id)
    assert run.data.params["tokenizer"] == "kiwi"


def test_a_saved_kiwi_model_loads_with_its_analyser(tmp_path):
    from finsent.ml.models.baseline import BaselineClassifier

    titles = ["반등 갑니다", "손절 합니다", "매수 가즈아", "폭락 하네요"] * 5
    model = BaselineClassifier(tokenizer="kiwi", min_df=1)
    model.fit(titles, np.array([1, 0, 1, 0] * 5))
    model.save(tmp_path / "m")
    loaded = load_classifier(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(titles), model.predict_proba(titles))
    assert loaded.classifier.params["tokenizer"] == "kiwi"
