"""An encoder with a two-way classification head: titles in, P(up) out.

Each title is tokenised on its own ([CLS] title [SEP], or the tokenizer's own special tokens), cut
to ``max_title_tokens``; class 1 of the head is "up". Rows of similar length are batched together
with right padding and an attention mask.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from finsent.errors import FinsentError
from finsent.ml.models.hf.batches import length_grouped_batches
from finsent.ml.models.hf.spec import autocast

SCORE_OOM = ("out of GPU memory while scoring at batch size {batch_size}: lower --batch-size (the "
             "finsent_score DAG's batch_size param)")


@dataclass(frozen=True)
class EncodedRows:
    rows: list[list[int]]
    lengths: list[int]
    shared: int = 0  # an encoder shares no prefix between titles


@dataclass(frozen=True)
class EncoderNetwork:
    tokenizer: Any
    model: Any  # a sequence classifier (a peft model around one, for LoRA)
    device: str
    dtype: str  # the compute dtype (autocast)
    max_title_tokens: int

    def with_model(self, model: Any) -> EncoderNetwork:
        return replace(self, model=model)

    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.dtype)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """The ids of each title with the tokenizer's special tokens, cut to fit the budget."""
        normalised = [" ".join(t.split()) for t in texts]
        budget = self.max_title_tokens + self.tokenizer.num_special_tokens_to_add(pair=False)
        return [list(ids) for ids in self.tokenizer(normalised, truncation=True, max_length=budget)["input_ids"]]

    def training_rows(self, texts: Sequence[str]) -> EncodedRows:
        rows = self.encode(texts)
        return EncodedRows(rows, [len(r) for r in rows])

    def logits(self, rows: list[list[int]]) -> Any:
        """The head's two logits (down, up) per row; right padding."""
        import torch

        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row)
            mask[i, :len(row)] = 1
        return self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits

    def pair_logits(self, rows: EncodedRows, batch: list[int]) -> Any:
        """The logits of up and down (columns 0, 1), as the training loop reads every network."""
        return self.logits([rows.rows[i] for i in batch])[:, [1, 0]]

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros(0, dtype=np.float64)
        rows = self.encode(texts)
        out = np.zeros(len(rows), dtype=np.float64)
        try:
            with torch.inference_mode(), self.autocast():
                for batch in length_grouped_batches([len(r) for r in rows], batch_size, False, random.Random(0)):
                    logits = self.logits([rows[i] for i in batch]).float()
                    out[batch] = torch.softmax(logits, dim=-1)[:, 1].cpu().numpy()
        except torch.cuda.OutOfMemoryError:
            raise FinsentError(SCORE_OOM.format(batch_size=batch_size)) from None
        return out
