"""Saving and loading a causal-LM model (kinds lora and prompt): the adapter (lora), the tokenizer,
a manifest, a k-shot prompt's examples, and the base model bundled (a small local one) or named
(hub id + revision, read from the serving machine's hub cache), so that loading needs no hub.

The manifest records how the model was evaluated (``quantize``, ``dtype``); loading serves it the
same way: a version trained and evaluated with ``--quantize 4bit`` loads on a 4-bit base, which
needs CUDA, and is refused without it rather than served as a different model.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from finsent.errors import FinsentError
from finsent.ml.models.base import read_manifest, write_manifest
from finsent.ml.models.hf.base_model import keep_base, kept_base, load_base
from finsent.ml.models.hf.spec import TransformerSpec, resolve_device, resolve_dtype
from finsent.ml.models.lora.network import PromptNetwork

log = logging.getLogger(__name__)


def save_causal(directory: Path, kind: str, network: PromptNetwork, spec: TransformerSpec, base_path: str,
                examples: list[tuple[str, int]], *, bundle_base: bool | None = None, **details: Any) -> None:
    """Adapter (when the model has one), tokenizer and a manifest; the base kept (``keep_base``)."""
    directory.mkdir(parents=True, exist_ok=True)
    if hasattr(network.model, "peft_config"):
        network.model.save_pretrained(directory / "adapter")
    network.tokenizer.save_pretrained(directory / "tokenizer")
    reference = keep_base(directory, base_path, bundle_base)
    evaluated_as = {"quantize": spec.quantize, "dtype": network.dtype, "device": network.device}
    write_manifest(directory, kind, spec=asdict(spec), base=reference, evaluated_as=evaluated_as,
                   prompt_examples=[list(e) for e in examples], **details)


@dataclass(frozen=True)
class SavedCausal:
    spec: TransformerSpec  # as trained, with the device, quantization and dtype it is served in
    base_path: str  # the base's directory on this machine
    network: PromptNetwork  # the model (with its adapter) on its base, in eval mode
    examples: list[tuple[str, int]]  # a k-shot prompt's
    manifest: dict


def _served_as(directory: Path, manifest: dict, device: str) -> tuple[str | None, str]:
    """(quantization, dtype) to serve in: as evaluated (float16 becomes float32 on a CPU)."""
    import torch

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
    return quantize, dtype


def load_causal(directory: Path, device: str = "auto") -> SavedCausal:
    """A saved model, served as it was evaluated (quantization, dtype)."""
    manifest = read_manifest(directory)
    quantize, dtype = _served_as(directory, manifest, device)
    spec = TransformerSpec.from_saved(manifest["spec"], device=device, quantize=quantize, dtype=dtype,
                                      checkpoint_dir=None)
    base = kept_base(directory, manifest)
    run_on = resolve_device(spec.device, spec.quantize)
    compute = resolve_dtype(spec.dtype, run_on)
    tokenizer, model = load_base(str(base), device=run_on, dtype=compute, quantize=quantize,
                                 tokenizer_path=directory / "tokenizer", trust_remote_code=spec.trust_remote_code)
    if (directory / "adapter").is_dir():
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, directory / "adapter")
        if quantize != "4bit":
            model.to(run_on)
    model.eval()
    examples = [(str(t), int(y)) for t, y in manifest.get("prompt_examples", [])]
    return SavedCausal(spec, str(base), PromptNetwork.build(tokenizer, model, spec, run_on, compute, examples),
                       examples, manifest)
