"""The text of a row, as every model reads it: a title, and the head of a cleaned body.

Bodies come as Naver writes them: HTML (``<br>`` breaks, ``<img>``), image placeholders, links,
``ㅋㅋㅋㅋㅋㅋㅋ`` and pages of copy-paste. ``clean_body`` makes one plain text of any of them
(idempotent: cleaning a clean body changes nothing), capped at ``BODY_MAX_CHARS``. ``TextSpec``
says what a model reads (``title``, ``title+body``; news: the summary is the body; or
``title+body+comments``: a board post's body and then the comments written under it before its
decision, one per line, ``finsent.data.post_comments``) within a budget of whitespace-separated
tokens: the whole title first, then the body's first tokens, then the comments'.

A snapshot freezes the cleaned, budgeted body (and comments) of each row (``dataset_rows.body``); a
model records its ``TextSpec`` in its manifest, and its pyfunc applies it to the ``title``, ``body``
and ``comments`` it is given, so a served model reads exactly what it was tested on. Cleaning is
idempotent, so a frozen body read again is itself. Standard library only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

TEXT_MODES = ("title", "title+body", "title+body+comments")
DEFAULT_TEXT = "title+body"  # what `finsent dataset build` freezes unless told (news: title + summary)
DEFAULT_TEXT_TOKENS = 128  # whitespace-separated tokens of title + body a model reads
BODY_MAX_CHARS = 2000  # a body is cut here (at a space) before any budget: longer ones are pastes

# HTML only where the body is HTML: plain text such as "A < B & C > D" keeps its brackets.
_LOOKS_HTML = re.compile(r"</?(br|p|div|span|img|a|b|i|u|strong|em|font|li|ul|ol|table|tr|td|h[1-6])(\s[^<>]*)?/?>",
                         re.IGNORECASE)
_BREAK = re.compile(r"<\s*br\s*/?\s*>|<\s*/\s*(p|div|li|tr|h[1-6])\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]{0,2000}>")
_IMAGE = re.compile(r"\[\s*(이미지|사진|동영상|영상|움짤|스티커|첨부|image|img|photo|picture|video|gif|sticker)"
                    r"(\s*\d+)?\s*\]|\(\s*(이미지|사진|동영상)\s*\)|<\s*(이미지|사진|동영상)\s*>", re.IGNORECASE)
_URL = re.compile(r"((https?://|www\.)|\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|net|org|kr|ly|io|me|co|gl|us|do)/)"
                  r"[^\s<>\"']*", re.IGNORECASE)
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_REPEAT = re.compile(r"(\S)\1{3,}")  # ㅋㅋㅋㅋㅋ -> ㅋㅋㅋ, !!!!!! -> !!!
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n{2,}")
_TOKEN = re.compile(r"\S+")


def clean_body(text: str | None) -> str:
    """Plain text of a body: HTML to text, image placeholders and links dropped, runs of one
    character cut to three, spaces and blank lines collapsed, at most ``BODY_MAX_CHARS``."""
    if not text:
        return ""
    if _LOOKS_HTML.search(text):
        text = html.unescape(_TAG.sub(" ", _BREAK.sub("\n", text)))
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _URL.sub(" ", _IMAGE.sub(" ", text))
    text = _REPEAT.sub(r"\1\1\1", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n", "\n".join(lines)).strip()
    if len(text) > BODY_MAX_CHARS:
        cut = text.rfind(" ", BODY_MAX_CHARS - 100, BODY_MAX_CHARS)
        text = text[:cut if cut > 0 else BODY_MAX_CHARS].rstrip()
    return text


def head_tokens(text: str, tokens: int) -> str:
    """The first ``tokens`` whitespace-separated tokens of ``text``, its line breaks kept."""
    if tokens <= 0:
        return ""
    for count, match in enumerate(_TOKEN.finditer(text), start=1):
        if count == tokens:
            return text[:match.end()]
    return text


def token_count(text: str) -> int:
    return len(_TOKEN.findall(text))


@dataclass(frozen=True)
class TextSpec:
    """What a model reads of a row: the title alone, or the title and then the head of the cleaned
    body (and of the comments after it), within ``tokens`` whitespace-separated tokens (the title
    whole first)."""

    text: str = "title"
    tokens: int = DEFAULT_TEXT_TOKENS

    def __post_init__(self) -> None:
        if self.text not in TEXT_MODES:
            raise ValueError(f"text must be one of {', '.join(TEXT_MODES)}, got {self.text!r}")
        if self.tokens < 1:
            raise ValueError(f"the text budget must be at least 1 token, got {self.tokens}")

    @property
    def reads_body(self) -> bool:
        return self.text != "title"

    @property
    def reads_comments(self) -> bool:
        return self.text == "title+body+comments"

    def body(self, title: str, body: str | None, comments: str | None = None) -> str | None:
        """The body as this spec reads it: cleaned, then (a spec reading comments) the cleaned comments
        on the lines after it, their head within what the title leaves of the budget; None when the
        spec reads titles only."""
        if not self.reads_body:
            return None
        parts = (clean_body(body), clean_body(comments) if self.reads_comments else "")
        return head_tokens("\n".join(part for part in parts if part), self.tokens - token_count(title))

    def compose(self, title: str, body: str | None, comments: str | None = None) -> str:
        """The one string a model reads."""
        kept = self.body(title, body, comments)
        return f"{title}\n{kept}" if kept else title

    def compose_all(self, titles: Sequence[str], bodies: Iterable[Any] | None = None,
                    comments: Iterable[Any] | None = None) -> list[str]:
        """The strings a model reads of parallel titles, bodies and comments (None or a non-string: none)."""
        if bodies is None or not self.reads_body:
            return [str(t) for t in titles]
        threads = comments if comments is not None and self.reads_comments else [None] * len(titles)
        return [self.compose(str(t), _text(b), _text(c)) for t, b, c in zip(titles, bodies, threads)]

    def texts(self, frame: Any) -> list[str]:
        """The strings a model reads for the rows of a DataFrame with ``title`` (and ``body``, ``comments``)."""
        bodies = frame["body"].tolist() if "body" in frame else [None] * len(frame)
        comments = frame["comments"].tolist() if "comments" in frame else None
        return self.compose_all(frame["title"].tolist(), bodies, comments)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "tokens": self.tokens}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> TextSpec:
        """A recorded spec; None (a model or snapshot from before bodies) reads titles only."""
        if not value:
            return cls("title")
        return cls(str(value.get("text", "title")), int(value.get("tokens", DEFAULT_TEXT_TOKENS)))

    @classmethod
    def of_snapshot(cls, spec: dict[str, Any]) -> TextSpec:
        """What a snapshot's rows hold (its spec's ``text`` and ``text_tokens``; titles before bodies)."""
        return cls(str(spec.get("text", "title")), int(spec.get("text_tokens", DEFAULT_TEXT_TOKENS)))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
