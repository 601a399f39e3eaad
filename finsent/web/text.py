"""Text from the database as the page shows it: hostile input made inert before it is escaped."""

from __future__ import annotations

# Bidi controls (embeddings, overrides, isolates, marks) can reverse what follows them on the page:
# a name or title never needs them to be read.
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def plain_text(text: str) -> str:
    """``text`` without bidi controls, its whitespace runs cut to one space. Escaping is the caller's job."""
    return " ".join(text.translate(BIDI_CONTROLS).split())
