"""Credentials never reach a log line: every URL finsent logs or prints goes through :func:`mask_urls`."""

from __future__ import annotations

import logging
import re

# scheme://, then everything up to a space or a quote: a password may hold '/' or an unescaped '@',
# so the credentials end at the last '@' of that run (as urllib reads it).
_URL = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<rest>[^\s\"'<>]+)")


def _mask(match: re.Match[str]) -> str:
    credentials, at, host = match["rest"].rpartition("@")
    if not at or ":" not in credentials:
        return match[0]  # no password in it
    return f"{match['scheme']}{credentials.partition(':')[0]}:***@{host}"


def mask_urls(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``
    (``postgresql://u:p@ss@127.0.0.1/db`` -> ``postgresql://u:***@127.0.0.1/db``)."""
    return _URL.sub(_mask, text) if "://" in text else text


def without_credentials(url: str) -> str:
    """``url`` without its ``user:password@`` part: for a link a browser follows (it asks for the
    credentials itself), where even a masked password has no use and a real one would leak."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority = rest[:end]
    return f"{scheme}://{authority.rpartition('@')[2]}{rest[end:]}" if "@" in authority else url


class MaskingFormatter(logging.Formatter):
    """A formatter whose every line (message, arguments, traceback) has its URLs masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_urls(super().format(record))
