"""The LoRA classifier: finsent's model interface (fit, predict_proba, save, load) over its collaborators.

``spec`` says what the model is and where it runs, ``network`` holds the model and scores titles
(prefix-cached), ``training`` trains an adapter, ``persistence`` saves and loads one. This class
only holds the spec and the current network and hands each call to the module that does it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from finsent.errors import FinsentError
from finsent.ml.models.lora.encoding import PromptEncoder
from finsent.ml.models.lora.network import PromptNetwork
from finsent.ml.models.lora.persistence import KIND, load_lora, save_lora
from finsent.ml.models.lora.spec import LoraSpec, check_base_model, resolve_device, resolve_dtype
from finsent.ml.models.lora.training import train_adapter


class LoraClassifier:
    kind = KIND

    def __init__(self, spec: LoraSpec, *, base_path: str | None = None, network: PromptNetwork | None = None) -> None:
        """``network``: an adapter already trained or loaded (else ``fit`` trains one)."""
        self.spec = spec
        self.base_path = base_path or spec.base_model
        self.device = resolve_device(spec.device, spec.quantize)
        self.dtype = resolve_dtype(spec.dtype, self.device)
        check_base_model(self.base_path)
        self.network = network
        if network is not None:
            self.device = network.device
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

    def _trained(self) -> PromptNetwork:
        if self.network is None:
            raise FinsentError("the model is not trained or loaded")
        return self.network

    def fit(self, texts: Sequence[str], labels: np.ndarray,
            valid: tuple[Sequence[str], np.ndarray] | None = None) -> None:
        trained = train_adapter(self.spec, self.base_path, self.device, self.dtype, texts, labels, valid)
        self.network, self.best_step = trained.network, trained.best_step
        self.device = trained.network.device  # a rank's own device in a distributed job

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64, use_prefix_cache: bool = True) -> np.ndarray:
        return self._trained().predict_proba(texts, batch_size, use_prefix_cache)

    def save(self, directory: Path, *, bundle_base: bool | None = None) -> None:
        save_lora(directory, self._trained(), self.spec, self.base_path, bundle_base=bundle_base)

    @classmethod
    def load(cls, directory: Path, device: str = "auto") -> LoraClassifier:
        saved = load_lora(directory, device)
        return cls(saved.spec, base_path=saved.base_path, network=saved.network)
