"""Saving and loading a LoRA model: adapter, tokenizer, manifest, and the base model bundled
(a small local one) or referenced, so that loading needs no hub."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from finsent.errors import FinsentError
from finsent.ml.models.base import read_manifest, write_manifest
from finsent.ml.models.lora.spec import LoraSpec

if TYPE_CHECKING:
    from finsent.ml.models.lora.classifier import LoraClassifier


def save_lora(clf: LoraClassifier, directory: Path, *, bundle_base: bool | None = None) -> None:
    """Adapter, tokenizer and a manifest. The base model is copied in when it is a small local
    directory (or ``bundle_base``), else referenced by its local path, so loading needs no hub."""
    import shutil

    directory.mkdir(parents=True, exist_ok=True)
    clf.model.save_pretrained(directory / "adapter")
    clf.tokenizer.save_pretrained(directory / "tokenizer")
    base = Path(clf.base_path)
    if bundle_base is None:
        bundle_base = base.is_dir() and sum(f.stat().st_size for f in base.rglob("*") if f.is_file()) < 500e6
    if bundle_base:
        if not base.is_dir():
            raise FinsentError(f"cannot bundle base model {clf.base_path!r}: not a local directory")
        shutil.copytree(base, directory / "base", dirs_exist_ok=True)
        base_ref = "base"
    else:
        base_ref = str(_local_base_path(clf))
    spec = asdict(clf.spec)
    write_manifest(directory, clf.kind, spec=spec, base=base_ref, bundled=bool(bundle_base))


def _local_base_path(clf: LoraClassifier) -> Path:
    if Path(clf.base_path).is_dir():
        return Path(clf.base_path).resolve()
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(clf.base_path, local_files_only=True))


def load_lora(directory: Path, device: str = "auto") -> LoraClassifier:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finsent.ml.models.lora.classifier import LoraClassifier

    manifest = read_manifest(directory)
    spec = LoraSpec(**{**manifest["spec"], "device": device, "quantize": None, "checkpoint_dir": None})
    base = directory / manifest["base"] if manifest["bundled"] else Path(manifest["base"])
    if not base.is_dir():
        raise FinsentError(f"{directory}: its base model {base} is not on this machine")
    model = LoraClassifier(spec, base_path=str(base))
    model.tokenizer = AutoTokenizer.from_pretrained(directory / "tokenizer")
    base_model = AutoModelForCausalLM.from_pretrained(base).to(model.device)
    model.model = PeftModel.from_pretrained(base_model, directory / "adapter").to(model.device)
    model.model.eval()
    return model
