"""One small interface for every model: fit, predict_proba, save, load."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from finsent.errors import FinsentError

MANIFEST = "finsent_model.json"
LABELS = ("down", "up")  # class 1 is "up": predict_proba returns P(up)


class Classifier(Protocol):
    kind: str

    def fit(self, texts: Sequence[str], labels: np.ndarray) -> None: ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...

    def save(self, directory: Path) -> None: ...


def encode_labels(labels: Sequence[str]) -> np.ndarray:
    return np.array([1 if label == "up" else 0 for label in labels], dtype=np.int64)


def write_manifest(directory: Path, kind: str, **details) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST).write_text(json.dumps({"kind": kind, **details}, ensure_ascii=False, indent=2))


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FinsentError(f"{directory} is not a finsent model: no {MANIFEST} in it")
    return json.loads(path.read_text())
