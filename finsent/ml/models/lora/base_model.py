"""Where a base model comes from, how it is loaded, and how a saved version names it so another
machine finds it.

A hub base is recorded as hub id + revision (the commit hash of the snapshot that was trained on)
and read from the Hugging Face cache of the machine that serves it (``HF_HUB_CACHE``, else
``HF_HOME/hub``: in compose, the ``models`` volume), never downloaded at serving time. A small
local directory is bundled with the version; a large local directory that is not a cache snapshot
is referenced by its path (it only loads where that path exists: a warning says so).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from finsent.errors import ConfigError, FinsentError

log = logging.getLogger(__name__)

BUNDLE_LIMIT_BYTES = 500_000_000  # local bases under this size travel with the version


def hf_hub_cache() -> Path:
    """The hub cache as the environment says now (huggingface_hub reads it once, at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def load_source(reference: str) -> tuple[str, dict]:
    """What ``from_pretrained`` reads for a base given as a directory or a hub id, and its extra
    arguments. A hub id already in the cache loads from its snapshot directory, so a pre-fetched
    base never touches the network (and its revision is the one recorded); otherwise it downloads."""
    if Path(reference).expanduser().is_dir():
        return str(Path(reference).expanduser()), {}
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(reference, cache_dir=str(hf_hub_cache()), local_files_only=True), {}
    except (OSError, ValueError):  # not cached: from_pretrained downloads it into the cache
        return reference, {"cache_dir": str(hf_hub_cache())}


def load_base(base_path: str, *, device: str, dtype: str, quantize: str | None,
              tokenizer_path: str | Path | None = None) -> tuple[Any, Any]:
    """(tokenizer, base model) of ``base_path``: its own tokenizer, or the one saved at
    ``tokenizer_path``; the frozen base in the compute ``dtype`` on ``device`` (4-bit NF4 with
    ``quantize="4bit"``). peft keeps the LoRA weights in float32 (the master copy) whatever it is."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source, extra = load_source(base_path)
    try:
        tokenizer = (AutoTokenizer.from_pretrained(tokenizer_path) if tokenizer_path
                     else AutoTokenizer.from_pretrained(source, **extra))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--base-model {base_path!r} is not a loadable model: {exc}") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    kwargs: dict = {**extra, "dtype": getattr(torch, dtype)}
    if quantize == "4bit":
        from transformers import BitsAndBytesConfig

        compute = torch.float16 if dtype == "float16" else torch.bfloat16
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute)
        kwargs["device_map"] = {"": torch.device(device).index or 0}  # this rank's GPU
    try:
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--base-model {base_path!r} is not a loadable causal LM: {exc}") from None
    if quantize != "4bit":
        model.to(device)
    return tokenizer, model


def directory_size(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def _cache_snapshot(directory: Path) -> dict | None:
    """hub id + revision when ``directory`` is ``…/models--OWNER--NAME/snapshots/REVISION``."""
    snapshots, repo = directory.parent, directory.parent.parent
    if snapshots.name == "snapshots" and repo.name.startswith("models--"):
        return {"hub_id": repo.name.removeprefix("models--").replace("--", "/"), "revision": directory.name}
    return None


def base_reference(base: str) -> dict:
    """How a saved version names a base that is not bundled: hub id + revision, or a path."""
    path = Path(base).expanduser()
    if path.is_dir():
        snapshot = _cache_snapshot(path.resolve())
        if snapshot:
            return snapshot
        log.warning("base model %s is a large local directory, not a hub snapshot: the version refers to "
                    "this path and loads only where it exists", path)
        return {"path": str(path.resolve())}
    from huggingface_hub import snapshot_download

    try:
        local = Path(snapshot_download(base, cache_dir=str(hf_hub_cache()), local_files_only=True))
    except (OSError, ValueError) as exc:  # huggingface_hub's "not cached" errors are OSErrors
        raise FinsentError(f"base model {base!r} is not in the hub cache {hf_hub_cache()}: {exc}") from None
    return {"hub_id": base, "revision": local.name}


def locate_base(reference: dict) -> Path:
    """The local directory of a recorded base on this machine, offline; a clear error if absent."""
    if "path" in reference:
        path = Path(reference["path"])
        if not path.is_dir():
            raise FinsentError(f"the version's base model {path} is not on this machine")
        return path
    from huggingface_hub import snapshot_download

    hub_id, revision = reference["hub_id"], reference["revision"]
    try:
        return Path(snapshot_download(hub_id, revision=revision, cache_dir=str(hf_hub_cache()),
                                      local_files_only=True))
    except (OSError, ValueError):  # huggingface_hub's "not cached" errors are OSErrors
        raise FinsentError(
            f"base model {hub_id}@{revision} is not in the hub cache on this machine ({hf_hub_cache()}); "
            f"pre-fetch it on a machine with internet into that cache (the models volume): "
            f"HF_HOME=… hf download {hub_id} --revision {revision}") from None
