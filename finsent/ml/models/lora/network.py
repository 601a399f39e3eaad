"""A causal LM with a LoRA adapter, read through two verbalizers, and its prefix-cached inference.

The prompt (``study-2shot`` or ``zero-shot``) ends in "[정답]:"; the answer is " [상승]" or
" [하락]". Both share their first token(s); the model's logits for the first token where they
differ, after the shared part, give P(up) in one forward pass (no ``generate``). Training
minimises the cross-entropy of that two-way choice (``training``). Each post is tokenised as one
whole prompt (``encoding``); at inference the ids all posts share with the prompt prefix run once
and only the rest runs per post.
"""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from finsent.errors import FinsentError
from finsent.ml.models.hf.batches import length_grouped_batches
from finsent.ml.models.hf.spec import TransformerSpec, autocast
from finsent.ml.models.lora.encoding import PromptEncoder

SCORE_OOM = ("out of GPU memory while scoring at batch size {batch_size}: lower --batch-size (the "
             "finsent_score DAG's batch_size param)")


@dataclass(frozen=True)
class PromptRows:
    """Titles as the model reads them: the ids all share with the prompt prefix, and each one's rest."""

    prefix_ids: list[int]
    rows: list[list[int]]
    lengths: list[int]

    @property
    def shared(self) -> int:
        return len(self.prefix_ids)


@dataclass(frozen=True)
class PromptNetwork:
    """The tokenizer, the model (a peft model, or the base while it is being wrapped), the prompt
    encoder of that tokenizer, and where and in which dtype the model computes."""

    tokenizer: Any
    model: Any
    encoder: PromptEncoder
    device: str
    dtype: str

    @classmethod
    def build(cls, tokenizer: Any, model: Any, spec: TransformerSpec, device: str, dtype: str,
              examples: Sequence[tuple[str, int]] = ()) -> PromptNetwork:
        """``examples``: a k-shot prompt's (title, 1 = up), chosen from the train part."""
        encoder = PromptEncoder(tokenizer, spec.prompt, spec.max_title_tokens, examples)
        return cls(tokenizer, model, encoder, device, dtype)

    def training_rows(self, texts: Sequence[str]) -> PromptRows:
        prefix_ids, rows = self.encoder.split(self.encoder.encode(texts))
        return PromptRows(prefix_ids, rows, [len(r) for r in rows])

    def pair_logits(self, rows: PromptRows, batch: list[int]) -> Any:
        """The logits of the up and down verbalizers (columns 0, 1) for the rows of ``batch``."""
        logits = self.forward_last(rows.prefix_ids, [rows.rows[i] for i in batch])
        return logits[:, [self.encoder.up_id, self.encoder.down_id]]

    def with_model(self, model: Any) -> PromptNetwork:
        """The same network around another model object (DDP-wrapped, unwrapped)."""
        return replace(self, model=model)

    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.dtype)

    def forward_last(self, prefix_ids: list[int], rows: list[list[int]], prefix_cache: Any = None) -> Any:
        """Logits at each row's last token, for prompt prefix + row; right padding. With
        ``prefix_cache`` (the key/value cache of ``prefix_ids``) only the rows run."""
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
            logits = self.model(input_ids=ids, attention_mask=full_mask, cache=cache, use_cache=True).logits
        else:
            prefix_t = torch.tensor(prefix_ids, dtype=torch.long, device=self.device).expand(len(rows), -1)
            full_ids = torch.cat([prefix_t, ids], 1)
            full_mask = torch.cat([torch.ones_like(prefix_t), mask], 1)
            logits = self.model(input_ids=full_ids, attention_mask=full_mask).logits[:, n_prefix:]
        return logits[torch.arange(len(rows), device=self.device), last]

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64, use_prefix_cache: bool = True) -> np.ndarray:
        """P(up) per title: the softmax over the two verbalizers' first differing ids."""
        import torch

        if not texts:
            return np.zeros(0, dtype=np.float64)
        prefix_ids, rows = self.encoder.split(self.encoder.encode(texts))
        up_id, down_id = self.encoder.up_id, self.encoder.down_id
        out = np.zeros(len(rows), dtype=np.float64)
        try:
            with torch.inference_mode(), self.autocast():
                cache = None
                if use_prefix_cache and prefix_ids:
                    cache = self.model(input_ids=torch.tensor([prefix_ids], device=self.device),
                                       use_cache=True).cache
                for batch in length_grouped_batches([len(r) for r in rows], batch_size, False, random.Random(0)):
                    logits = self.forward_last(prefix_ids, [rows[i] for i in batch], cache).float()
                    pair = torch.log_softmax(logits[:, [up_id, down_id]], dim=-1)
                    out[batch] = pair[:, 0].exp().cpu().numpy()
        except torch.cuda.OutOfMemoryError:
            raise FinsentError(SCORE_OOM.format(batch_size=batch_size)) from None
        return out
