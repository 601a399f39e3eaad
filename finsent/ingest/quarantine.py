"""Keep the raw bodies of responses that did not parse, for a human to look at."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path


def save_raw(directory: Path, *, source: str, ticker: str, url: str, body: bytes, reason: str,
             content_type: str | None = None) -> Path:
    """Write ``body`` and a ``.meta.json`` beside it; return the body's path.

    Written to a temporary name and renamed, so a half-written file never looks complete.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    digest = hashlib.sha256(body).hexdigest()[:10]
    path = directory / f"{source}_{ticker}_{stamp}_{digest}.raw"
    meta = {"url": url, "reason": reason, "content_type": content_type, "bytes": len(body),
            "saved_at": datetime.now(UTC).isoformat()}
    for target, payload in ((path, body), (path.with_suffix(".meta.json"),
                                           json.dumps(meta, ensure_ascii=False, indent=2).encode())):
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, target)
    return path
