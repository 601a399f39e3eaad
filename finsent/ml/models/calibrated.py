"""A model with its calibration and what it reads: raw P(up) from the model, mapped by a Platt
scaling fitted on valid, of the texts its ``TextSpec`` makes of a title and a body.

Both are saved in the model's manifest (``calibration``, ``text``), so the pyfunc that MLflow
serves, ``finsent score`` and ``finsent evaluate`` all read calibrated P(up) of the text the model
was tested on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from finsent.data.text import TextSpec
from finsent.ml.calibration import PlattCalibration
from finsent.ml.models.base import MANIFEST
from finsent.ml.models.texts import TITLES


class CalibratedClassifier:
    def __init__(self, classifier, calibration: PlattCalibration | None, text: TextSpec = TITLES) -> None:
        self.classifier = classifier
        self.calibration = calibration
        self.text = text
        self.kind = classifier.kind

    def __getattr__(self, name: str):
        # everything but P(up) is the model's own (its spec, dtype, device, tokenizer ...)
        if name == "classifier":
            raise AttributeError(name)
        return getattr(self.classifier, name)

    def predict_proba(self, texts: Sequence[str], **options) -> np.ndarray:
        raw = self.classifier.predict_proba(texts, **options)
        return raw if self.calibration is None else self.calibration.apply(raw)

    def save(self, directory: Path) -> None:
        self.classifier.save(directory)
        path = Path(directory) / MANIFEST
        manifest = json.loads(path.read_text())
        manifest["calibration"] = self.calibration.to_json() if self.calibration else None
        manifest["text"] = self.text.to_json()
        path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
