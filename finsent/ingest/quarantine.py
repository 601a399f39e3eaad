"""Keep the raw bodies of responses that did not parse, for a human to look at."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from finsent.names import private_dir


def save_raw(directory: Path, *, source: str, ticker: str, url: str, body: bytes, reason: str,
             content_type: str | None = None) -> Path:
    """Write ``body`` and a ``.meta.json`` beside it; return the body's path.

    Written to a temporary name and renamed, so a half-written file never looks complete.
    """
    private_dir(directory)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    digest = hashlib.sha256(body).hexdigest()[:10]
    path = directory / f"{source}_{ticker}_{stamp}_{digest}.raw"
    meta = {"url": url, "reason": reason, "content_type": content_type, "bytes": len(body),
            "saved_at": datetime.now(UTC).isoformat()}
    for target, payload in ((path, body), (path.with_suffix(".meta.json"),
                                           json.dumps(meta, ensure_ascii=False, indent=2).encode())):
        tmp = target.with_name(target.name + ".tmp")
        # 0600 from the first byte: a raw page may hold other people's posts
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(payload)
        os.replace(tmp, target)
    return path
