"""Batches of rows of similar length (finsent.ml.models.hf.batches), and the shared prompt prefix
(finsent.ml.models.lora.encoding): what keeps padding and recomputation small."""

from __future__ import annotations

import random

from finsent.ml.models.hf.batches import length_grouped_batches
from finsent.ml.models.lora.encoding import common_prefix_length


def test_every_row_once_in_batches_of_similar_length():
    lengths = [(i * 37) % 500 + 1 for i in range(1_000)]
    batches = length_grouped_batches(lengths, 16, shuffle=True, rng=random.Random(0))
    assert sorted(i for batch in batches for i in batch) == list(range(1_000))
    assert all(len(batch) <= 16 for batch in batches) and sum(len(b) == 16 for b in batches) >= 62
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 30  # unsorted batches of 16 would span about 440
    again = length_grouped_batches(lengths, 16, shuffle=True, rng=random.Random(0))
    assert again == batches and length_grouped_batches(lengths, 16, shuffle=True, rng=random.Random(1)) != batches
    plain = length_grouped_batches([3, 1, 2], 2, shuffle=False, rng=random.Random(0))
    assert plain == [[1, 2], [0]]


def test_the_common_prefix_of_two_token_sequences():
    assert common_prefix_length([1, 2, 3, 4], [1, 2, 9]) == 2
    assert common_prefix_length([1, 2], [1, 2, 3]) == 2 and common_prefix_length([], [1]) == 0
