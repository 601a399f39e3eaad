"""The encoder classifier (kind ``encoder``): BERT, RoBERTa, DeBERTa-v2, ELECTRA or ModernBERT with a
two-way sequence-classification head, fine-tuned fully (``--finetune full``) or with a LoRA adapter
(the default; the head and any weights the checkpoint lacked train whole), through the same
training loop, checkpoints and early stopping on valid as the causal LMs (``hf.training``).

Saved: a LoRA model as adapter + tokenizer + its base kept like a causal LM's (bundled when small,
else hub id + revision); a fully fine-tuned model as the whole classifier + tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from finsent.errors import ConfigError, FinsentError
from finsent.ml.models.base import read_manifest, write_manifest
from finsent.ml.models.encoder.network import EncoderNetwork
from finsent.ml.models.hf.adapters import add_lora, fully_trainable
from finsent.ml.models.hf.base_model import keep_base, kept_base, load_sequence_classifier
from finsent.ml.models.hf.spec import TransformerSpec, check_base_model, resolve_device, resolve_dtype
from finsent.ml.models.hf.targets import ChosenTargets
from finsent.ml.models.hf.training import train_network


class EncoderClassifier:
    kind = "encoder"

    def __init__(self, spec: TransformerSpec | None = None, *, network: EncoderNetwork | None = None,
                 base_path: str | None = None) -> None:
        """``spec``: a new model (its defaults filled in); ``network``: one loaded (``load``)."""
        self.spec: TransformerSpec = (spec if network is not None and spec is not None
                                      else (spec or TransformerSpec()).resolved(self.kind))
        if self.spec.quantize:
            raise ConfigError("--quantize 4bit is for causal LMs; an encoder trains in bf16 or float32")
        self.base_path = base_path or str(self.spec.base_model)
        check_base_model(self.base_path)
        self.device = resolve_device(self.spec.device, None)
        self.dtype = resolve_dtype(self.spec.dtype, self.device)
        self.network = network
        if network is not None:
            self.device = network.device
        self.targets: ChosenTargets | None = None
        self.new_modules: tuple[str, ...] = ()
        self.best_step: int | None = None

    @property
    def full(self) -> bool:
        return self.spec.finetune == "full"

    @property
    def model(self) -> Any:
        return self.network.model if self.network is not None else None

    @property
    def params(self) -> dict[str, str]:
        params = {k: str(v) for k, v in asdict(self.spec).items() if k != "lora_targets"}  # the chosen ones below
        if self.targets is not None:
            params.update({"lora_targets": self.targets.text, "lora_targets_from": self.targets.source})
        params["trained_whole"] = "all weights" if self.full else ",".join(self.new_modules) or "-"
        return params

    def _trained(self) -> EncoderNetwork:
        if self.network is None:
            raise FinsentError("the model is not trained or loaded")
        return self.network

    def _build(self, device: str, dtype: str) -> EncoderNetwork:
        # full fine-tuning keeps float32 master weights (autocast computes in dtype); LoRA freezes a dtype base
        tokenizer, model, self.new_modules = load_sequence_classifier(
            self.base_path, device=device, dtype="float32" if self.full else dtype,
            trust_remote_code=self.spec.trust_remote_code)
        if self.full:
            model = fully_trainable(model, self.spec)
        else:
            model, self.targets = add_lora(model, self.spec, task="SEQ_CLS", base=self.base_path,
                                           new_modules=self.new_modules)
        return EncoderNetwork(tokenizer, model, device, dtype, self.spec.max_title_tokens)

    def fit(self, texts: Sequence[str], labels: np.ndarray,
            valid: tuple[Sequence[str], np.ndarray] | None = None) -> None:
        trained = train_network(self.spec, self._build, self.device, self.dtype, texts, labels, valid)
        self.network, self.best_step = trained.network, trained.best_step
        self.device = trained.network.device

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return self._trained().predict_proba(texts, batch_size)

    def save(self, directory: Path, *, bundle_base: bool | None = None) -> None:
        network = self._trained()
        directory.mkdir(parents=True, exist_ok=True)
        network.tokenizer.save_pretrained(directory / "tokenizer")
        if self.full:
            network.model.save_pretrained(directory / "model")
            reference: dict = {"whole": "model"}
        else:
            network.model.save_pretrained(directory / "adapter")
            reference = keep_base(directory, self.base_path, bundle_base)
        write_manifest(directory, self.kind, spec=asdict(self.spec), base=reference,
                       evaluated_as={"quantize": None, "dtype": network.dtype, "device": network.device})

    @classmethod
    def load(cls, directory: Path, device: str = "auto") -> EncoderClassifier:
        manifest = read_manifest(directory)
        dtype = manifest.get("evaluated_as", {}).get("dtype", "auto")
        on_cpu = device == "cpu" or (device == "auto" and resolve_device("auto", None) == "cpu")
        spec = TransformerSpec.from_saved(manifest["spec"], device=device, checkpoint_dir=None,
                                          dtype="float32" if on_cpu and dtype == "float16" else dtype)
        run_on = resolve_device(spec.device, None)
        compute = resolve_dtype(spec.dtype, run_on)
        whole = "whole" in manifest["base"]
        base = directory / manifest["base"]["whole"] if whole else kept_base(directory, manifest)
        tokenizer, model, _ = load_sequence_classifier(
            str(base), device=run_on, dtype="float32" if spec.finetune == "full" else compute,
            tokenizer_path=directory / "tokenizer", trust_remote_code=spec.trust_remote_code)
        if not whole:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, directory / "adapter").to(run_on)
        network = EncoderNetwork(tokenizer, model.eval(), run_on, compute, spec.max_title_tokens)
        return cls(spec, network=network, base_path=str(base))
