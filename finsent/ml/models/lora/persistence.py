"""Saving and loading a LoRA model: adapter, tokenizer, manifest, and the base model bundled
(a small local one) or named (hub id + revision, read from the serving machine's hub cache), so
that loading needs no hub.

The manifest records how the model was evaluated (``quantize``, ``dtype``); loading serves it the
same way: a version trained and evaluated with ``--quantize 4bit`` loads its adapter on a 4-bit
base, which needs CUDA, and is refused without it rather than served as a different model.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from finsent.errors import FinsentError
from finsent.ml.models.base import read_manifest, write_manifest
from finsent.ml.models.lora.base_model import BUNDLE_LIMIT_BYTES, base_reference, directory_size, locate_base
from finsent.ml.models.lora.spec import LoraSpec

if TYPE_CHECKING:
    from finsent.ml.models.lora.classifier import LoraClassifier

log = logging.getLogger(__name__)


def save_lora(clf: LoraClassifier, directory: Path, *, bundle_base: bool | None = None) -> None:
    """Adapter, tokenizer and a manifest. The base is copied in when it is a local directory under
    500 MB (or ``bundle_base``), else named so the serving machine finds it in its hub cache."""
    directory.mkdir(parents=True, exist_ok=True)
    clf.model.save_pretrained(directory / "adapter")
    clf.tokenizer.save_pretrained(directory / "tokenizer")
    base = Path(clf.base_path).expanduser()
    if bundle_base is None:
        bundle_base = base.is_dir() and directory_size(base) < BUNDLE_LIMIT_BYTES
    if bundle_base:
        if not base.is_dir():
            raise FinsentError(f"cannot bundle base model {clf.base_path!r}: not a local directory")
        shutil.copytree(base, directory / "base", dirs_exist_ok=True)
        reference = {"bundled": "base"}
    else:
        reference = base_reference(clf.base_path)
    evaluated_as = {"quantize": clf.spec.quantize, "dtype": clf.dtype, "device": clf.device}
    write_manifest(directory, clf.kind, spec=asdict(clf.spec), base=reference, evaluated_as=evaluated_as)


def _base_directory(directory: Path, manifest: dict) -> Path:
    reference = manifest["base"]
    if isinstance(reference, str):  # manifests before hub id + revision: a bundled folder or a local path
        reference = {"bundled": reference} if manifest.get("bundled") else {"path": reference}
    if "bundled" in reference:
        return directory / reference["bundled"]
    return locate_base(reference)


def load_lora(directory: Path, device: str = "auto") -> LoraClassifier:
    import torch
    from peft import PeftModel

    from finsent.ml.models.lora.classifier import LoraClassifier

    manifest = read_manifest(directory)
    evaluated = manifest.get("evaluated_as", {})
    quantize = evaluated.get("quantize", manifest["spec"].get("quantize"))
    if quantize == "4bit" and not torch.cuda.is_available():
        raise FinsentError(f"{directory}: this version was evaluated on a 4-bit base (QLoRA) and is served the "
                           "same way, which needs CUDA: score it on the gpu queue (a GPU worker)")
    dtype = evaluated.get("dtype", "auto")
    on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    if on_cpu and dtype == "float16":
        dtype = "float32"  # CPUs have no fast, exact fp16: compute in fp32 (log says so)
        log.warning("%s was evaluated in float16 on a GPU; on this CPU it computes in float32", directory)
    spec = LoraSpec(**{**manifest["spec"], "device": device, "quantize": quantize, "dtype": dtype,
                       "checkpoint_dir": None})
    base = _base_directory(directory, manifest)
    if not base.is_dir():
        raise FinsentError(f"{directory}: its base model {base} is not on this machine")
    model = LoraClassifier(spec, base_path=str(base))
    model.tokenizer, base_model = model._load_base(tokenizer_path=directory / "tokenizer")
    model.model = PeftModel.from_pretrained(base_model, directory / "adapter")
    if quantize != "4bit":
        model.model.to(model.device)
    model.model.eval()
    return model
