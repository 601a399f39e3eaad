"""Decoding what Naver serves: JSON answers, and Korean legacy pages (EUC-KR/CP949 by declaration,
sometimes UTF-8 in practice)."""

from __future__ import annotations

import json
import re
from typing import Any

from finsent.errors import PageParseError

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*([A-Za-z0-9_\-]+)", re.IGNORECASE)


def _codec(name: str) -> str:
    name = name.lower()
    # euc-kr is a subset of cp949; Naver's pages use cp949-only syllables, so always widen.
    return "cp949" if name in ("euc-kr", "euc_kr", "euckr", "ks_c_5601-1987", "ksc5601") else name


def decode_korean_html(body: bytes, content_type: str | None, marker: str) -> str | None:
    """Decode with the header's charset, then <meta>, then cp949, then utf-8.

    ``marker`` (e.g. ``날짜``) must appear in the result: a wrong codec decodes without error
    but garbles Hangul, so success is judged by the marker, not by the absence of exceptions.
    Returns None when no candidate shows the marker.
    """
    candidates: list[str] = []
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        if match:
            candidates.append(_codec(match.group(1)))
    match = _META_CHARSET.search(body[:4096])
    if match:
        candidates.append(_codec(match.group(1).decode("ascii")))
    candidates += ["cp949", "utf-8"]
    seen: set[str] = set()
    for codec in candidates:
        if codec in seen:
            continue
        seen.add(codec)
        try:
            text = body.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
        if marker in text:
            return text
    return None


def json_document(body: bytes, url: str) -> Any:
    """The JSON document of one answer; an empty or non-JSON body raises PageParseError."""
    if not body.strip():
        raise PageParseError(url, "empty body")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PageParseError(url, f"not JSON ({exc})") from None
