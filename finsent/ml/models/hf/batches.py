"""Batches of rows of similar length (dynamic padding stays small), for training and scoring."""

from __future__ import annotations

import random
from collections.abc import Sequence


def length_grouped_batches(lengths: Sequence[int], batch_size: int, shuffle: bool,
                           rng: random.Random) -> list[list[int]]:
    """Row indices in batches of rows of similar length: sorted within chunks of 50 batches, so
    dynamic padding stays small; with ``shuffle``, the rows and then the batches in ``rng``'s order."""
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
