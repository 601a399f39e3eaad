"""Korean morphemes for the TF-IDF baseline: ``--tokenizer kiwi`` (kiwipiepy, Apache-2.0).

Kiwi's model ships as a package (kiwipiepy-model), so it works offline. A text becomes its
morphemes as ``form/tag`` (``반등/NNG``, ``ᆸ니다/EF``) and the pairs of neighbouring ones: the
tags tell ``보/VV`` (see) from ``보/VX``, and the pairs keep ``안/MAG 사/VV`` apart from ``사/VV``.
The analyser is picklable (the joblib of a fitted pipeline carries it); the Kiwi instance is made
once per process, on first use (loading its model takes a few seconds).
"""

from __future__ import annotations

import threading
from typing import Any

TOKENIZERS = ("char", "kiwi")  # character n-grams (no analyser), or morphemes

_kiwi: Any = None
_kiwi_lock = threading.Lock()


def kiwi() -> Any:
    global _kiwi
    with _kiwi_lock:
        if _kiwi is None:
            from kiwipiepy import Kiwi

            _kiwi = Kiwi()
    return _kiwi


class MorphemeAnalyzer:
    """A TF-IDF analyser: a text's morphemes (``form/tag``) and their n-grams up to ``ngram_max``."""

    def __init__(self, ngram_max: int = 2) -> None:
        self.ngram_max = ngram_max

    def __call__(self, text: str) -> list[str]:
        tokens = [f"{token.form}/{token.tag}" for token in kiwi().tokenize(text)]
        grams = list(tokens)
        for n in range(2, self.ngram_max + 1):
            grams += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        return grams

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MorphemeAnalyzer) and other.ngram_max == self.ngram_max

    def __hash__(self) -> int:
        return hash(("MorphemeAnalyzer", self.ngram_max))


def analyzer(tokenizer: str) -> Any:
    """What a vectorizer's ``analyzer`` is for a tokenizer: ``char_wb`` n-grams or morphemes."""
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {tokenizer!r}; choose one of {', '.join(TOKENIZERS)}")
    return "char_wb" if tokenizer == "char" else MorphemeAnalyzer()
