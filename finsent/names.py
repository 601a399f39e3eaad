"""Names that become database keys and folder names (datasets, label definitions).

A name is checked before any work: a dataset name is a folder under ``FINSENT_DATA_DIR/datasets``,
so ``..`` or ``.`` or a path separator would point a build, and its cleanup, at other data (the
embedded Postgres included). Every path written is checked to stay inside its folder as well.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from finsent.errors import ConfigError

MAX_NAME_CHARS = 64
# A letter or digit first (so never ".", "..", or a hidden file), then letters, digits, _ . -
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_LOWER_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


def check_name(name: str, what: str, *, lower_case: bool = False) -> str:
    """Return ``name`` if it is a safe name, else raise ConfigError (exit 2) saying why."""
    pattern = _LOWER_NAME if lower_case else _NAME
    letters = "a-z" if lower_case else "A-Z, a-z"
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{what} is empty")
    if len(name) > MAX_NAME_CHARS:
        raise ConfigError(f"{what} {name[:20]!r}... is {len(name)} characters long; at most {MAX_NAME_CHARS}")
    if ".." in name or pattern.fullmatch(name) is None:
        raise ConfigError(f"{what} {name!r} is not allowed: use {letters}, 0-9, '_', '.' and '-', starting with a "
                          "letter or digit, no '..' and no path separators")
    return name


def inside(folder: Path, path: Path) -> Path:
    """``path`` if it resolves inside ``folder`` (never ``folder`` itself), else ConfigError."""
    root = folder.resolve()
    resolved = path.resolve()
    if resolved == root or root not in resolved.parents:
        raise ConfigError(f"refusing to write {path}: it is not inside {folder}")
    return resolved


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) readable by this user only (0700): posts, prices and
    models under FINSENT_DATA_DIR are nobody else's to read."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for created in missing:
        created.chmod(0o700)  # mkdir's mode is masked by the umask, and parents get the default
    return path


def private_files(folder: Path) -> None:
    """Make ``folder`` 0700 and every file in it 0600 (writers such as pyarrow follow the umask,
    and a process-wide umask would also reach the servers finsent starts)."""
    folder.chmod(0o700)
    for path in folder.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)


def private_folder(path: Path) -> Path:
    """``private_dir``, and 0700 also when ``path`` already existed (made by an older finsent, or by
    a writer that follows the umask)."""
    private_dir(path).chmod(0o700)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` readable by this user only, from the first byte (0600 also when an
    older file was readable), in a 0700 folder."""
    private_folder(path.parent)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(handle, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    return path
