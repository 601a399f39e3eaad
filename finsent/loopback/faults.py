"""The loopback Naver's injectable faults: what a hostile or broken server does to one answer.

``FakeNaver.inject(path, kind, times=1, after=0, **kw)`` queues a fault for the next ``times``
requests of ``path`` (after ``after`` normal ones). Kinds:

* ``status`` (``code=500``), ``rate_limit`` (429, ``retry_after=1``: seconds or an HTTP date),
  ``drop`` (the socket closed, no answer), ``slow`` (``seconds=3`` before answering),
  ``malformed`` (a broken body of the right type), ``empty`` (200, empty body);
* ``drip``: the real answer, ``chunk=64`` bytes every ``interval=0.1`` seconds (a slow drip that
  never trips a per-read timeout);
* ``redirect``: 302 to ``location=`` (a path, ``file:///...``) or to ``to_base=`` (another host's
  base URL, path and query kept); with ``location`` equal to the path, a redirect loop;
* ``bad_gzip``: ``Content-Encoding: gzip`` on a body that is not gzip;
* ``poison``: the real answer with fields of one item replaced (``index=0``; ``fields={...}``),
  written with JSON escapes, so a lone surrogate (``"\\ud83d"``) goes out as Naver would send it:
  JSON board posts (``title``, ``writtenAt``) or news articles of the first cluster (``title``,
  ``datetime``);
* ``cursor_loop``: the JSON board's ``lastOffset`` points back at the cursor of the previous
  request of that ticker, so two pages alternate forever;
* ``page_loop``: a page-numbered list (news, legacy board) serves page ``((n - 1) % period) + 1``
  (``period=2``) for page n: two pages alternate forever.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from typing import Any

from finsent.loopback.content import TEXT_CT, Fault, Response

# Kinds answered without the real page / that rewrite the real answer / that change how it is sent.
EARLY_KINDS = frozenset({"status", "rate_limit", "drop", "redirect"})
REWRITE_KINDS = frozenset({"malformed", "empty", "bad_gzip", "poison", "cursor_loop"})
FAULT_KINDS = EARLY_KINDS | REWRITE_KINDS | {"slow", "drip", "page_loop"}
# Faults after which the answer is still the list the client asked for (counted as list requests).
SERVES_THE_LIST = frozenset({"slow", "drip", "poison", "cursor_loop", "page_loop"})
DROP = Response(0, TEXT_CT, b"")  # marker: close the socket without answering


def check(kind: str, kw: dict[str, Any]) -> None:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
    if kind == "status" and int(kw.get("code", 500)) < 400:
        raise ValueError("a status fault needs an error code")
    if kind == "redirect" and not (kw.get("location") or kw.get("to_base")):
        raise ValueError("a redirect fault needs location= or to_base=")
    if kind == "poison" and not isinstance(kw.get("fields"), dict):
        raise ValueError("a poison fault needs fields={name: value}")


def early_answer(fault: Fault, raw_path: str) -> Response | None:
    """The answer of a fault that replaces the real page (DROP: no answer at all), else None."""
    if fault.kind == "drop":
        return DROP
    if fault.kind == "status":
        code = int(fault.kw.get("code", 500))
        return Response(code, TEXT_CT, f"{code} error\n".encode())
    if fault.kind == "rate_limit":
        value = fault.kw.get("retry_after", 1)
        header = value if isinstance(value, str) else str(int(value))
        return Response(429, TEXT_CT, b"Too Many Requests\n", {"Retry-After": header})
    if fault.kind == "redirect":
        location = fault.kw.get("location") or f"{fault.kw['to_base'].rstrip('/')}{raw_path}"
        return Response(int(fault.kw.get("code", 302)), TEXT_CT, b"Moved\n", {"Location": location})
    return None


def looped_query(fault: Fault | None, query: dict[str, str]) -> dict[str, str]:
    """For ``page_loop``: the query of the page served instead (pages 1..period, over and over)."""
    if fault is None or fault.kind != "page_loop":
        return query
    try:
        page = max(1, int(query.get("page") or "1"))
    except ValueError:
        return query
    period = int(fault.kw.get("period", 2))
    return {**query, "page": str((page - 1) % period + 1)}


def rewritten(fault: Fault, response: Response, previous_offset: str | None) -> Response:
    """The real answer as a rewriting fault changes it."""
    if fault.kind == "malformed":
        return Response(200, response.content_type, malformed_body(response))
    if fault.kind == "empty":
        return Response(200, response.content_type, b"")
    if fault.kind == "bad_gzip":
        # gzip's magic, then bytes no inflater accepts: what a broken proxy or a cut cache serves
        return Response(200, response.content_type, b"\x1f\x8b\x08\x00" + b"this is not deflate data" * 8,
                        {"Content-Encoding": "gzip"}, list_ticker=response.list_ticker)
    document = json.loads(response.body)
    if fault.kind == "poison":
        _poison(document, fault.kw["fields"], int(fault.kw.get("index", 0)))
    elif fault.kind == "cursor_loop" and previous_offset and isinstance(document, dict):
        document["result"]["lastOffset"] = previous_offset
    body = json.dumps(document, ensure_ascii=True).encode("ascii")  # escapes: a lone surrogate survives
    return Response(response.status, response.content_type, body, response.headers, response.list_ticker)


def _poison(document: Any, fields: dict[str, Any], index: int) -> None:
    if isinstance(document, dict):  # the JSON board
        items = document["result"]["posts"]
    else:  # news: story clusters
        items = document[0]["items"] if document else []
    if index < len(items):  # a page without that item (the empty end of a list) goes out as it is
        items[index].update(fields)


def send(handler: Any, response: Response, fault: Fault | None) -> None:
    """Write ``response``; a ``drip`` fault writes its body ``chunk`` bytes at a time, slowly."""
    handler.send_response(response.status)
    handler.send_header("Content-Type", response.content_type)
    handler.send_header("Content-Length", str(len(response.body)))
    for key, value in response.headers.items():
        handler.send_header(key, value)
    handler.end_headers()
    if fault is None or fault.kind != "drip":
        handler.wfile.write(response.body)
        return
    chunk, interval = int(fault.kw.get("chunk", 64)), float(fault.kw.get("interval", 0.1))
    for start in range(0, len(response.body), chunk):
        handler.wfile.write(response.body[start:start + chunk])
        handler.wfile.flush()
        time.sleep(interval)


def malformed_body(response: Response) -> bytes:
    """A broken body of the same content type: cut JSON/XML/JS, or HTML without the table."""
    body = response.body
    if response.content_type.startswith("text/html"):
        page = (
            '<html lang="ko">\n<head>\n'
            '<meta http-equiv="Content-Type" content="text/html; charset=euc-kr">\n'
            "<title>네이버 금융</title>\n</head>\n<body>\n"
            '<div id="content"><div class="section inner_sub">\n'
            "<p>일시적으로 서비스를 이용할 수 없습니다.</p>\n</div></div>\n</body>\n</html>\n"
        )
        return page.encode("cp949")
    if response.content_type.startswith("text/xml"):
        items = [m.start() for m in re.finditer(rb"<item ", body)]
        cut = items[len(items) // 2] + 8 if items else max(1, body.find(b"<chartdata") + 12)
        return body[:cut]  # ends inside a tag, e.g. b'<item da'
    return body[: max(1, len(body) // 2)]


def http_date(seconds_from_now: float) -> str:
    """A Retry-After HTTP date ``seconds_from_now`` ahead (for ``rate_limit``)."""
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)
