"""The model kinds finsent trains, by the name their manifest records.

A model directory's ``finsent_model.json`` names its kind; this registry maps the kind to the
class that loads it. Classes are imported only when used, so reading a manifest never pulls in
torch, and ``base`` needs to know no subclass.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from finsent.errors import FinsentError
from finsent.ml.models.base import Classifier, read_manifest

MODEL_KINDS: dict[str, str] = {
    "baseline": "finsent.ml.models.baseline:BaselineClassifier",
    "lora": "finsent.ml.models.lora:LoraClassifier",
}


def classifier_class(kind: str) -> type:
    try:
        module, name = MODEL_KINDS[kind].split(":")
    except KeyError:
        raise FinsentError(f"unknown model kind {kind!r} (known: {', '.join(MODEL_KINDS)})") from None
    return getattr(importlib.import_module(module), name)


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
