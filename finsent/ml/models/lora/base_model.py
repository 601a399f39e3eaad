"""Where a base model comes from, and how a saved version names it so another machine finds it.

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

from finsent.errors import FinsentError

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
