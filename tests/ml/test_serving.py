"""Serving the champion: scoring on the queue where the model runs, the forward batch it is told,
the dtype and quantisation it was evaluated in."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from finsent.config import load_settings
from finsent.errors import ConfigError, FinsentError
from finsent.ml.models import load_classifier
from finsent.ml.models.hf.spec import TransformerSpec, resolve_dtype
from finsent.ml.models.lora import LoraClassifier
from finsent.ml.registry import MODEL_NAME, configure
from finsent.ml.score import score_posts
from finsent.ml.spec import ScoreSpec
from finsent.ml.train import train_model
from finsent.orchestration.tasks import find_version
from tests.data.board import query

TITLES = ["삼성 가즈아 떡상", "손절 떡락 하한가", "오늘 점심 뭐 먹지", "외인 매수 반등"] * 3
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="QLoRA and GPU memory need CUDA")


def small_spec(tiny_model, **overrides) -> TransformerSpec:
    return TransformerSpec(**{"base_model": str(tiny_model), "prompt": "zero-shot", "max_steps": 3, "batch_size": 8,
                       "device": "cpu", "lora_r": 4, **overrides})


def test_lora_champion_scores_on_the_gpu_queue_at_the_batch_size_asked(engine, planted, tiny_model, monkeypatch):
    settings = load_settings()
    lora = train_model(settings, engine, planted, "lora", transformer=small_spec(tiny_model))
    if not lora.decision.promoted:  # three steps rarely show skill: promote it by hand, as an operator may
        configure(settings).set_registered_model_alias(MODEL_NAME, "champion", str(lora.version))
    assert find_version() == {"version": lora.version, "kind": "lora", "queue": "gpu"}
    batches: list[int] = []  # rows per forward pass, seen at the embedding (called with input_ids)

    def record(module, args):
        if isinstance(module, torch.nn.Embedding) and args and args[0].dim() == 2:
            batches.append(args[0].shape[0])

    handle = torch.nn.modules.module.register_module_forward_pre_hook(record)
    try:
        report = score_posts(settings, engine, ScoreSpec(batch_size=7))
    finally:
        handle.remove()
    total = query(engine, "SELECT count(*) FROM posts")[0][0]
    assert report.scored == total
    assert max(batches) == 7 and batches.count(1) <= total // 7 + 5  # the prefix runs once per fetch

    baseline = train_model(settings, engine, planted, "baseline")
    configure(settings).set_registered_model_alias(MODEL_NAME, "champion", str(baseline.version))
    assert find_version() == {"version": baseline.version, "kind": "baseline", "queue": "default"}


def test_dtype_policy():
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("bfloat16", "cpu") == "bfloat16"
    with pytest.raises(ConfigError, match="float16 needs CUDA"):
        resolve_dtype("float16", "cpu")
    with pytest.raises(ConfigError, match="--dtype must be one of"):
        resolve_dtype("fp8", "cpu")
    if torch.cuda.is_available():
        assert resolve_dtype("auto", "cuda") == ("bfloat16" if torch.cuda.is_bf16_supported() else "float16")


def test_a_model_is_served_in_the_dtype_it_was_evaluated_in(tiny_model, tmp_path):
    model = LoraClassifier(small_spec(tiny_model, dtype="bfloat16"))
    model.fit(TITLES, np.array([1, 0, 0, 1] * 3))
    evaluated = model.predict_proba(TITLES)
    model.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "finsent_model.json").read_text())
    assert manifest["evaluated_as"] == {"quantize": None, "dtype": "bfloat16", "device": "cpu"}
    served = load_classifier(tmp_path / "m", device="cpu")
    assert served.dtype == "bfloat16"
    weights = {name: p.dtype for name, p in served.model.named_parameters()}
    assert weights and all(d == (torch.float32 if "lora_" in n else torch.bfloat16) for n, d in weights.items())
    assert np.abs(served.predict_proba(TITLES) - evaluated).max() < 1e-6


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_a_4bit_version_is_not_served_as_another_model_without_cuda(tiny_model, tmp_path):
    model = LoraClassifier(small_spec(tiny_model))
    model.fit(TITLES, np.array([1, 0, 0, 1] * 3))
    model.save(tmp_path / "m")
    manifest_path = tmp_path / "m" / "finsent_model.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["evaluated_as"]["quantize"] = "4bit"  # as a GPU training run with --quantize 4bit writes it
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(FinsentError, match=r"evaluated on a 4-bit base .* needs CUDA: score it on the gpu queue"):
        load_classifier(tmp_path / "m", device="cpu")


@needs_cuda
def test_qlora_is_served_on_a_4bit_base(tiny_model, tmp_path):
    model = LoraClassifier(small_spec(tiny_model, device="cuda", quantize="4bit"))
    model.fit(TITLES, np.array([1, 0, 0, 1] * 3))
    evaluated = model.predict_proba(TITLES)
    model.save(tmp_path / "m")
    served = load_classifier(tmp_path / "m", device="cuda")
    assert served.spec.quantize == "4bit" and getattr(served.model.base_model.model, "is_loaded_in_4bit", False)
    assert np.abs(served.predict_proba(TITLES) - evaluated).max() < 1e-3


@needs_cuda
def test_out_of_gpu_memory_in_scoring_is_a_clear_error(tiny_model):
    model = LoraClassifier(small_spec(tiny_model, device="cuda"))
    model.fit(TITLES, np.array([1, 0, 0, 1] * 3))
    torch.cuda.set_per_process_memory_fraction(0.0005)
    try:
        with pytest.raises(FinsentError, match="out of GPU memory while scoring at batch size 4096: lower"):
            model.predict_proba(TITLES * 2000, batch_size=4096)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
