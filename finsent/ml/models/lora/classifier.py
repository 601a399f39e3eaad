"""A causal LM with a LoRA adapter, read as a classifier through two verbalizers.

The prompt (``study-2shot`` or ``zero-shot``) ends in "[정답]:"; the answer is " [상승]" or
" [하락]". Both share their first token(s); the model's logits for the first token where they
differ, after the shared part, give P(up) in one forward pass (no ``generate``). Training
minimises the cross-entropy of that two-way choice. Each post is tokenised as one whole prompt
(``encoding``); at inference the ids all posts share with the prompt prefix run once and only the
rest runs per post.

This module holds the model and its prefix-cached inference; ``training`` holds the loop and
``persistence`` saving and loading.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from finsent.errors import ConfigError, FinsentError
from finsent.ml.models.lora.base_model import load_source
from finsent.ml.models.lora.encoding import PromptEncoder
from finsent.ml.models.lora.spec import LoraSpec, check_base_model, resolve_device, resolve_dtype

TRAIN_OOM = ("out of GPU memory: lower --batch-size, add --gradient-checkpointing, or use --quantize 4bit")
SCORE_OOM = ("out of GPU memory while scoring at batch size {batch_size}: lower --batch-size (the "
             "finsent_score DAG's batch_size param)")


class LoraClassifier:
    kind = "lora"

    def __init__(self, spec: LoraSpec, *, base_path: str | None = None) -> None:
        self.spec = spec
        self.base_path = base_path or spec.base_model
        self.device = resolve_device(spec.device, spec.quantize)
        self.dtype = resolve_dtype(spec.dtype, self.device)
        check_base_model(self.base_path)
        self.model = None
        self.tokenizer = None
        self.best_step: int | None = None  # the step early stopping on valid kept
        self._encoder: PromptEncoder | None = None
        self.best_step: int | None = None  # the step early stopping on valid kept

    # -- model ------------------------------------------------------------------------------------

    def _load_base(self, tokenizer_path: str | Path | None = None):
        """(tokenizer, base model): the base's own tokenizer, or the one saved at ``tokenizer_path``."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source, extra = load_source(self.base_path)
        try:
            tokenizer = (AutoTokenizer.from_pretrained(tokenizer_path) if tokenizer_path
                         else AutoTokenizer.from_pretrained(source, **extra))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--base-model {self.base_path!r} is not a loadable model: {exc}") from None
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        # The frozen base in the compute dtype; peft keeps the LoRA weights in float32 (the master copy).
        kwargs: dict = {**extra, "dtype": getattr(torch, self.dtype)}
        if self.spec.quantize == "4bit":
            from transformers import BitsAndBytesConfig

            compute = torch.float16 if self.dtype == "float16" else torch.bfloat16
            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=compute)
            kwargs["device_map"] = {"": torch.device(self.device).index or 0}  # this rank's GPU
        try:
            model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--base-model {self.base_path!r} is not a loadable causal LM: {exc}") from None
        if self.spec.quantize != "4bit":
            model.to(self.device)
        return tokenizer, model

    @property
    def encoder(self) -> PromptEncoder:
        if self._encoder is None or self._encoder.tokenizer is not self.tokenizer:
            self._encoder = PromptEncoder(self.tokenizer, self.spec.prompt, self.spec.max_title_tokens)
        return self._encoder

    def _answer_ids(self) -> tuple[list[int], int, int]:
        """(shared answer prefix ids, first differing id of up, of down)."""
        enc = self.encoder
        return enc.answer_shared, enc.up_id, enc.down_id

    def _encode(self, titles: Sequence[str]) -> list[list[int]]:
        """Per post: the ids of the whole prompt + the shared answer ids."""
        return self.encoder.encode(titles)

    def _batches(self, lengths: list[int], batch_size: int, shuffle: bool, rng: random.Random) -> list[list[int]]:
        """Length-grouped batches: sort within chunks of 50 batches, so padding stays small."""
        order = list(range(len(lengths)))
        if shuffle:
            rng.shuffle(order)
        chunk = batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            part = sorted(order[start:start + chunk], key=lambda i: lengths[i])
            batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
        if shuffle:
            rng.shuffle(batches)
        return batches

    def _forward_last(self, prefix_ids: list[int], rows: list[list[int]], prefix_cache=None):
        """Logits at each row's last token, for prompt prefix + row; right padding."""
        import torch

        pad = self.tokenizer.pad_token_id
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row)
            mask[i, :len(row)] = 1
        last = torch.tensor([len(r) - 1 for r in rows], device=self.device)
        ids, mask = ids.to(self.device), mask.to(self.device)
        n_prefix = len(prefix_ids)
        if prefix_cache is not None:
            cache = copy.deepcopy(prefix_cache)
            cache.batch_repeat_interleave(len(rows))
            full_mask = torch.cat([torch.ones((len(rows), n_prefix), dtype=torch.long, device=self.device), mask], 1)
            out = self.model(input_ids=ids, attention_mask=full_mask, cache=cache, use_cache=True)
            logits = out.logits
        else:
            prefix_t = torch.tensor(prefix_ids, dtype=torch.long, device=self.device).expand(len(rows), -1)
            full_ids = torch.cat([prefix_t, ids], 1)
            full_mask = torch.cat([torch.ones_like(prefix_t), mask], 1)
            logits = self.model(input_ids=full_ids, attention_mask=full_mask).logits[:, n_prefix:]
        return logits[torch.arange(len(rows), device=self.device), last]

    def _autocast(self):
        """Matmuls in the compute dtype (see ``resolve_dtype``); float32 needs no autocast."""
        import contextlib

        import torch

        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast("cuda" if self.device.startswith("cuda") else "cpu", dtype=getattr(torch, self.dtype))

    # -- training and persistence live beside this module ------------------------------------------

    def fit(self, texts: Sequence[str], labels: np.ndarray,
            valid: tuple[Sequence[str], np.ndarray] | None = None) -> None:
        from finsent.ml.models.lora.training import fit_lora

        fit_lora(self, texts, labels, valid)

    def save(self, directory: Path, *, bundle_base: bool | None = None) -> None:
        from finsent.ml.models.lora.persistence import save_lora

        save_lora(self, directory, bundle_base=bundle_base)

    @classmethod
    def load(cls, directory: Path, device: str = "auto") -> LoraClassifier:
        from finsent.ml.models.lora.persistence import load_lora

        return load_lora(directory, device)

    # -- inference ----------------------------------------------------------------------------------

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64, use_prefix_cache: bool = True) -> np.ndarray:
        import torch

        if self.model is None:
            raise FinsentError("the model is not trained or loaded")
        if not texts:
            return np.zeros(0, dtype=np.float64)
        prefix_ids, rows = self.encoder.split(self._encode(texts))
        up_id, down_id = self.encoder.up_id, self.encoder.down_id
        out = np.zeros(len(rows), dtype=np.float64)
        try:
            with torch.inference_mode(), self._autocast():
                cache = None
                if use_prefix_cache and prefix_ids:
                    cache = self.model(input_ids=torch.tensor([prefix_ids], device=self.device),
                                       use_cache=True).cache
                for batch in self._batches([len(r) for r in rows], batch_size, False, random.Random(0)):
                    logits = self._forward_last(prefix_ids, [rows[i] for i in batch], cache).float()
                    pair = torch.log_softmax(logits[:, [up_id, down_id]], dim=-1)
                    out[batch] = pair[:, 0].exp().cpu().numpy()
        except torch.cuda.OutOfMemoryError:
            raise FinsentError(SCORE_OOM.format(batch_size=batch_size)) from None
        return out
