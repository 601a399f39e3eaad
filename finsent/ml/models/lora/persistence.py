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
from dataclasses import asdict, dataclass
from pathlib import Path

from finsent.errors import FinsentError
from finsent.ml.models.base import read_manifest, write_manifest
from finsent.ml.models.lora.base_model import BUNDLE_LIMIT_BYTES, base_reference, directory_size, load_base, locate_base
from finsent.ml.models.lora.network import PromptNetwork
from finsent.ml.models.lora.spec import LoraSpec, resolve_device, resolve_dtype

log = logging.getLogger(__name__)

KIND = "lora"  # the manifest's kind (finsent.ml.models.MODEL_KINDS)


def save_lora(directory: Path, network: PromptNetwork, spec: LoraSpec, base_path: str, *,
              bundle_base: bool | None = None) -> None:
    """Adapter, tokenizer and a manifest. The base is copied in when it is a local directory under
    500 MB (or ``bundle_base``), else named so the serving machine finds it in its hub cache."""
    directory.mkdir(parents=True, exist_ok=True)
    network.model.save_pretrained(directory / "adapter")
    network.tokenizer.save_pretrained(directory / "tokenizer")
    base = Path(base_path).expanduser()
    if bundle_base is None:
        bundle_base = base.is_dir() and directory_size(base) < BUNDLE_LIMIT_BYTES
    if bundle_base:
        if not base.is_dir():
            raise FinsentError(f"cannot bundle base model {base_path!r}: not a local directory")
        shutil.copytree(base, directory / "base", dirs_exist_ok=True)
        reference = {"bundled": "base"}
    else:
        reference = base_reference(base_path)
    evaluated_as = {"quantize": spec.quantize, "dtype": network.dtype, "device": network.device}
    write_manifest(directory, KIND, spec=asdict(spec), base=reference, evaluated_as=evaluated_as)


def _base_directory(directory: Path, manifest: dict) -> Path:
    reference = manifest["base"]
    if isinstance(reference, str):  # manifests before hub id + revision: a bundled folder or a local path
        reference = {"bundled": reference} if manifest.get("bundled") else {"path": reference}
    if "bundled" in reference:
        return Path(directory, reference["bundled"])
    return locate_base(reference)


@dataclass(frozen=True)
class SavedLora:
    spec: LoraSpec  # as trained, with the device, quantization and dtype it is served in
    base_path: str  # the base's directory on this machine
    network: PromptNetwork  # the adapter on its base, in eval mode


def load_lora(directory: Path, device: str = "auto") -> SavedLora:
    """A saved model, served as it was evaluated (quantization, dtype; float16 becomes float32 on a CPU)."""
    import torch
    from peft import PeftModel

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
    run_on = resolve_device(spec.device, spec.quantize)
    compute = resolve_dtype(spec.dtype, run_on)
    tokenizer, base_model = load_base(str(base), device=run_on, dtype=compute, quantize=quantize,
                                      tokenizer_path=directory / "tokenizer")
    model = PeftModel.from_pretrained(base_model, directory / "adapter")
    if quantize != "4bit":
        model.to(run_on)
    model.eval()
    return SavedLora(spec, str(base), PromptNetwork.build(tokenizer, model, spec, run_on, compute))
