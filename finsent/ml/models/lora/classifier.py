"""The causal-LM classifiers: finsent's model interface (fit, predict_proba, save, load) over their
collaborators. ``LoraClassifier`` (kind ``lora``) trains a LoRA adapter; ``PromptClassifier``
(kind ``prompt``) trains nothing and reads the base model through the same prompt and verbalizers.

``hf.spec`` says what the model is and where it runs, ``network`` holds the model and scores titles
(prefix-cached), ``hf.training`` trains, ``persistence`` saves and loads. These classes only hold
the spec and the current network and hand each call to the module that does it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from finsent.errors import FinsentError
from finsent.ml.models.hf.adapters import add_lora
from finsent.ml.models.hf.base_model import load_base
from finsent.ml.models.hf.spec import TransformerSpec, check_base_model, resolve_device, resolve_dtype
from finsent.ml.models.hf.targets import ChosenTargets
from finsent.ml.models.hf.training import train_network
from finsent.ml.models.lora.encoding import PromptEncoder
from finsent.ml.models.lora.network import PromptNetwork
from finsent.ml.models.lora.persistence import SavedCausal, load_causal, save_causal
from finsent.ml.models.prompts import K_SHOT, choose_examples

log = logging.getLogger(__name__)


class LoraClassifier:
    kind = "lora"

    def __init__(self, spec: TransformerSpec | None = None, *, saved: SavedCausal | None = None) -> None:
        """``spec``: a new model (its defaults filled in: ``TransformerSpec.resolved``); ``saved``:
        one loaded (``load``)."""
        self.spec = saved.spec if saved else (spec or TransformerSpec()).resolved(self.kind)
        self.base_path: str = saved.base_path if saved else str(self.spec.base_model)
        check_base_model(self.base_path)
        self.device = resolve_device(self.spec.device, self.spec.quantize)
        self.dtype = resolve_dtype(self.spec.dtype, self.device)
        self.network: PromptNetwork | None = saved.network if saved else None
        if self.network is not None:
            self.device = self.network.device
        self.examples: list[tuple[str, int]] = saved.examples if saved else []
        self.targets: ChosenTargets | None = None
        self.best_step: int | None = None  # the step early stopping on valid kept

    @property
    def model(self) -> Any:
        """The peft model (None before ``fit`` or ``load``)."""
        return self.network.model if self.network is not None else None

    @property
    def tokenizer(self) -> Any:
        return self.network.tokenizer if self.network is not None else None

    @property
    def encoder(self) -> PromptEncoder:
        return self._trained().encoder

    @property
    def params(self) -> dict[str, str]:
        """What the MLflow run records: the resolved spec, the LoRA targets and how they were chosen."""
        params = {k: str(v) for k, v in asdict(self.spec).items() if k != "lora_targets"}  # the chosen ones below
        if self.targets is not None:
            params.update({"lora_targets": self.targets.text, "lora_targets_from": self.targets.source})
        if self.examples:
            params["prompt_examples"] = str(len(self.examples))
        return params

    def _trained(self) -> PromptNetwork:
        if self.network is None:
            raise FinsentError("the model is not trained or loaded")
        return self.network

    def _choose_examples(self, texts: Sequence[str], labels: np.ndarray) -> None:
        if self.spec.prompt == K_SHOT:
            self.examples = choose_examples(texts, [int(y) for y in labels], self.spec.shots, self.spec.seed)
            log.info("k-shot prompt: %d examples from the train part", len(self.examples))

    def _build(self, device: str, dtype: str) -> PromptNetwork:
        tokenizer, base = load_base(self.base_path, device=device, dtype=dtype, quantize=self.spec.quantize,
                                    trust_remote_code=self.spec.trust_remote_code)
        model, self.targets = add_lora(base, self.spec, task="CAUSAL_LM", base=self.base_path)
        return PromptNetwork.build(tokenizer, model, self.spec, device, dtype, self.examples)

    def fit(self, texts: Sequence[str], labels: np.ndarray,
            valid: tuple[Sequence[str], np.ndarray] | None = None) -> None:
        self._choose_examples(texts, labels)
        trained = train_network(self.spec, self._build, self.device, self.dtype, texts, labels, valid)
        self.network, self.best_step = trained.network, trained.best_step
        self.device = trained.network.device  # a rank's own device in a distributed job

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64, use_prefix_cache: bool = True) -> np.ndarray:
        return self._trained().predict_proba(texts, batch_size, use_prefix_cache)

    def save(self, directory: Path, *, bundle_base: bool | None = None) -> None:
        save_causal(directory, self.kind, self._trained(), self.spec, self.base_path, self.examples,
                    bundle_base=bundle_base)

    @classmethod
    def load(cls, directory: Path, device: str = "auto") -> LoraClassifier:
        return cls(saved=load_causal(directory, device))


class PromptClassifier(LoraClassifier):
    """The base causal LM as it is, read through the prompt's verbalizers: ``fit`` trains nothing
    (a k-shot prompt takes its examples from the train part); calibration on valid still applies."""

    kind = "prompt"

    def fit(self, texts: Sequence[str], labels: np.ndarray,
            valid: tuple[Sequence[str], np.ndarray] | None = None) -> None:
        self._choose_examples(texts, labels)
        tokenizer, base = load_base(self.base_path, device=self.device, dtype=self.dtype,
                                    quantize=self.spec.quantize, trust_remote_code=self.spec.trust_remote_code)
        self.network = PromptNetwork.build(tokenizer, base.eval(), self.spec, self.device, self.dtype, self.examples)
        log.info("prompt model: %s read through %s (%d examples), no training", self.base_path, self.spec.prompt,
                 len(self.examples))
