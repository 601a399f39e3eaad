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
import shutil
from collections.abc import Iterable
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


def _tokenizer(base_path: str, source: str, extra: dict, tokenizer_path: str | Path | None, trust: bool) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = (AutoTokenizer.from_pretrained(tokenizer_path) if tokenizer_path
                     else AutoTokenizer.from_pretrained(source, trust_remote_code=trust, **extra))
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"--base-model {base_path!r} is not a loadable model: {_hint(exc)}") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _hint(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "trust_remote_code" in str(exc):
        return f"{text} (its architecture needs the code in its repository: read it, then pass --trust-remote-code)"
    return text


def _weights_options(extra: dict, device: str, dtype: str, quantize: str | None, trust: bool) -> dict:
    import torch

    kwargs: dict = {**extra, "dtype": getattr(torch, dtype), "trust_remote_code": trust}
    if quantize == "4bit":
        from transformers import BitsAndBytesConfig

        compute = torch.float16 if dtype == "float16" else torch.bfloat16
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute)
        kwargs["device_map"] = {"": torch.device(device).index or 0}  # this rank's GPU
    return kwargs


def load_base(base_path: str, *, device: str, dtype: str, quantize: str | None,
              tokenizer_path: str | Path | None = None, trust_remote_code: bool = False) -> tuple[Any, Any]:
    """(tokenizer, causal LM) of ``base_path``: its own tokenizer, or the one saved at
    ``tokenizer_path``; the frozen base in the compute ``dtype`` on ``device`` (4-bit NF4 with
    ``quantize="4bit"``). peft keeps the LoRA weights in float32 (the master copy) whatever it is.
    ``trust_remote_code`` (off by default) lets transformers run the repository's own code."""
    from transformers import AutoModelForCausalLM

    source, extra = load_source(base_path)
    tokenizer = _tokenizer(base_path, source, extra, tokenizer_path, trust_remote_code)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source, **_weights_options(extra, device, dtype, quantize, trust_remote_code))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"--base-model {base_path!r} is not a loadable causal LM: {_hint(exc)}") from None
    if quantize != "4bit":
        model.to(device)
    return tokenizer, model


def load_sequence_classifier(base_path: str, *, device: str, dtype: str, tokenizer_path: str | Path | None = None,
                             trust_remote_code: bool = False) -> tuple[Any, Any, tuple[str, ...]]:
    """(tokenizer, two-way sequence classifier, the modules whose weights the checkpoint did not hold)
    of an encoder: its head (and a pooler the checkpoint lacks) starts random (seeded by the caller),
    and those modules must be trained and saved with a LoRA adapter."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as transformers_logging

    source, extra = load_source(base_path)
    tokenizer = _tokenizer(base_path, source, extra, tokenizer_path, trust_remote_code)
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # its table of the head's missing weights: said below in a line
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=2, output_loading_info=True, ignore_mismatched_sizes=True,
            **_weights_options(extra, device, dtype, None, trust_remote_code))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"--base-model {base_path!r} is not a loadable encoder (sequence classification): "
                          f"{_hint(exc)}") from None
    finally:
        transformers_logging.set_verbosity(verbosity)
    # a head of another size (a checkpoint fine-tuned for three classes) starts afresh like a missing one
    mismatched = [entry[0] if isinstance(entry, tuple) else entry for entry in info.get("mismatched_keys", ())]
    new = _new_modules([*info.get("missing_keys", ()), *mismatched])
    if new and tokenizer_path is None:
        log.info("%s: %s start from random weights (the checkpoint has no classification head)", base_path,
                 ", ".join(new))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer, model.to(device), tuple(new)


_HEADS = ("classifier", "score", "pooler", "head")  # an encoder's head modules, trained whole


def _new_modules(missing_keys: Iterable[str]) -> tuple[str, ...]:
    """The modules holding the weights a checkpoint lacked: a head by its top-level name (what peft
    saves whole for a classifier: ``classifier``), any other by its path; none inside another."""
    paths = set()
    for key in missing_keys:
        module = key.rsplit(".", 1)[0] if "." in key else key
        top = module.split(".")[0]
        paths.add(top if top in _HEADS else module)
    return tuple(sorted(p for p in paths if not any(p.startswith(q + ".") for q in paths)))


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


def keep_base(directory: Path, base_path: str, bundle_base: bool | None = None) -> dict:
    """How a saved model finds its base again: copied into ``directory/base`` when it is a local
    directory under 500 MB (or ``bundle_base``), else named (hub id + revision, or a path)."""
    base = Path(base_path).expanduser()
    if bundle_base is None:
        bundle_base = base.is_dir() and directory_size(base) < BUNDLE_LIMIT_BYTES
    if not bundle_base:
        return base_reference(base_path)
    if not base.is_dir():
        raise FinsentError(f"cannot bundle base model {base_path!r}: not a local directory")
    shutil.copytree(base, directory / "base", dirs_exist_ok=True)
    return {"bundled": "base"}


def kept_base(directory: Path, manifest: dict) -> Path:
    """The base directory of a saved model on this machine (``keep_base``'s record; older manifests
    held a bundled folder name or a local path)."""
    reference = manifest["base"]
    if isinstance(reference, str):
        reference = {"bundled": reference} if manifest.get("bundled") else {"path": reference}
    base = Path(directory, reference["bundled"]) if "bundled" in reference else locate_base(reference)
    if not base.is_dir():
        raise FinsentError(f"{directory}: its base model {base} is not on this machine")
    return base
