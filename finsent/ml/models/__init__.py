"""finsent's models: a model directory's ``finsent_model.json`` names its kind, and the kinds
(``kinds.KINDS``, declared once) name the class that loads it. Classes are imported only when used,
so reading a manifest never pulls in torch, and ``base`` needs to know no subclass.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from finsent.errors import FinsentError
from finsent.ml.models.base import Classifier, read_manifest
from finsent.ml.models.kinds import KINDS, MODEL_KINDS


def classifier_class(kind: str) -> type:
    try:
        module, name = KINDS[kind].classifier.split(":")
    except KeyError:
        raise FinsentError(f"unknown model kind {kind!r} (known: {', '.join(MODEL_KINDS)})") from None
    return getattr(importlib.import_module(module), name)


def new_classifier(kind: str, transformer=None, *, tokenizer: str = "char") -> Classifier:
    """A fresh model of ``kind``; a transformers kind takes ``transformer`` (a TransformerSpec; its
    defaults are filled in and its options checked here, before any data is read), the baseline its
    ``tokenizer`` (char n-grams or kiwi morphemes)."""
    cls = classifier_class(kind)
    return cls(transformer) if KINDS[kind].transformer else cls(tokenizer=tokenizer)


def load_classifier(directory: Path, **options) -> Classifier:
    """Load whatever kind of model ``directory`` holds, with its calibration when it has one and what it
    reads (a model from before bodies: titles)."""
    from finsent.data.text import TextSpec
    from finsent.ml.calibration import PlattCalibration
    from finsent.ml.models.calibrated import CalibratedClassifier

    manifest = read_manifest(directory)
    model = classifier_class(manifest["kind"]).load(Path(directory), **options)
    calibration = manifest.get("calibration")
    return CalibratedClassifier(model, PlattCalibration.from_json(calibration) if calibration else None,
                                TextSpec.from_json(manifest.get("text")))
