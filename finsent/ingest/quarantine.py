"""Keep the raw bodies of responses that did not parse, or held records that were refused, for a
human to look at: ``SOURCE_TICKER_STAMP_DIGEST.raw`` and a ``.meta.json`` beside it (the URL, with
any password masked, the reason, and what else the caller says: the refused records, the redirects)."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finsent.logs.redact import mask_urls
from finsent.names import private_folder


def save_raw(directory: Path, *, source: str, ticker: str, url: str, body: bytes, reason: str,
             content_type: str | None = None, details: dict[str, Any] | None = None) -> Path:
    """Write ``body`` and a ``.meta.json`` beside it; return the body's path.

    Written to a temporary name and renamed, so a half-written file never looks complete; 0600 in a
    0700 folder from the first byte (a raw page holds other people's posts).
    """
    private_folder(directory)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    digest = hashlib.sha256(body).hexdigest()[:10]
    path = directory / f"{source}_{ticker}_{stamp}_{digest}.raw"
    meta = {"url": mask_urls(url), "reason": mask_urls(reason), "content_type": content_type, "bytes": len(body),
            "saved_at": datetime.now(UTC).isoformat(), **(details or {})}
    text = mask_urls(json.dumps(meta, ensure_ascii=False, indent=2))
    for target, payload in ((path, body), (path.with_suffix(".meta.json"), text.encode("utf-8", "backslashreplace"))):
        tmp = target.with_name(target.name + ".tmp")
        handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(handle, 0o600)  # also when an older file of that name was readable
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
        os.replace(tmp, target)
    return path
