"""One HTTP answer, read whole within a deadline and decoded by finsent itself.

``requests`` applies its timeout to each socket read, so a server that drips a byte a second never
times out and holds the ticker's lock and its pool slot for as long as it likes. Here the body is
read raw, piece by piece, against one deadline for the whole request (the socket's timeout is set
to what is left before each read), and ``Content-Encoding`` is decoded afterwards: a body that does
not decode is an error with the raw bytes kept (for the quarantine), never a traceback.
"""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import requests
import urllib3.exceptions

# What finsent asks for and can decode itself; Naver's answers are small (a JSON page, an XML history).
ACCEPT_ENCODING = "gzip, deflate"
MAX_BODY_BYTES = 256 * 2**20  # raw or decoded: a bigger answer is not a Naver page
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_READ_SIZE = 64 * 1024


class DeadlinePassed(Exception):
    """The request as a whole took longer than its deadline (connect, headers and body together)."""


class BodyError(Exception):
    """The body cannot be used as it came (it does not decode, or it is too large)."""

    def __init__(self, reason: str, raw: bytes) -> None:
        super().__init__(reason)
        self.raw = raw


@dataclass(frozen=True)
class Answer:
    """A response read whole: its final URL, status, headers and decoded body."""

    url: str
    status_code: int
    headers: Mapping[str, str]  # case-insensitive (requests' own mapping)
    content: bytes
    request_headers: Mapping[str, str]

    @property
    def text(self) -> str:
        """The body as text (UTF-8 unless the Content-Type names a charset; bad bytes replaced)."""
        content_type = self.headers.get("Content-Type") or ""
        charset = content_type.partition("charset=")[2].split(";")[0].strip() or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    @property
    def redirect_location(self) -> str | None:
        """Where a redirect points (None when this is not a redirect)."""
        return self.headers.get("Location") if self.status_code in REDIRECT_STATUSES else None


def read_answer(response: requests.Response, deadline: float) -> Answer:
    """Read ``response`` (sent with ``stream=True``) to its end before ``deadline`` (``time.monotonic``),
    then decode its body. Raises DeadlinePassed, BodyError, or requests' own connection errors."""
    try:
        raw = _read_raw(response, deadline)
    except BaseException:
        response.close()  # a half-read connection cannot serve another request
        raise
    response.raw.release_conn()  # read to its end: back to the pool, kept alive for the next request
    content = decode_body(raw, response.headers.get("Content-Encoding"))
    return Answer(url=response.url, status_code=response.status_code, headers=response.headers, content=content,
                  request_headers=response.request.headers)


def _read_raw(response: requests.Response, deadline: float) -> bytes:
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlinePassed(f"the answer took longer than its deadline ({size:,} bytes read by then)")
        if sock is not None:
            sock.settimeout(remaining)  # no single read may outlast the request's deadline
        try:
            chunk = response.raw.read1(_READ_SIZE, decode_content=False)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise DeadlinePassed(f"the answer took longer than its deadline ({size:,} bytes read by then)") from None
        except urllib3.exceptions.ProtocolError as exc:
            raise requests.ConnectionError(f"the connection broke while reading the body: {exc}") from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyError(f"the body is larger than {MAX_BODY_BYTES:,} bytes", b"".join(chunks))


def decode_body(raw: bytes, encoding: str | None) -> bytes:
    """``raw`` decoded as ``Content-Encoding`` says (gzip, deflate, identity; several in order)."""
    body = raw
    for coding in reversed([c.strip().lower() for c in (encoding or "").split(",") if c.strip()]):
        try:
            if coding in ("gzip", "x-gzip"):
                body = _bounded(zlib.decompressobj(16 + zlib.MAX_WBITS), body)
            elif coding == "deflate":
                try:
                    body = _bounded(zlib.decompressobj(), body)
                except zlib.error:  # some servers send raw deflate, without the zlib header
                    body = _bounded(zlib.decompressobj(-zlib.MAX_WBITS), body)
            elif coding != "identity":
                raise BodyError(f"Content-Encoding {coding!r} was not asked for ({ACCEPT_ENCODING})", raw)
        except (zlib.error, gzip.BadGzipFile, EOFError) as exc:
            raise BodyError(f"the body does not decode as Content-Encoding {coding} ({exc})", raw) from None
    return body


def _bounded(inflater, data: bytes) -> bytes:
    """Inflate ``data`` whole (a cut stream is an error), never past MAX_BODY_BYTES."""
    out = inflater.decompress(data, MAX_BODY_BYTES + 1)
    if len(out) > MAX_BODY_BYTES or inflater.unconsumed_tail:
        raise zlib.error(f"it inflates to more than {MAX_BODY_BYTES:,} bytes")
    if not inflater.eof:
        raise EOFError("the compressed stream ends before its end marker")
    return out + inflater.flush()
