"""robots.txt: read once per host, kept an hour for every process on the data folder, and obeyed.

Each Airflow crawl task is a process of its own: a day's crawl of 200 boards reads a host's
robots.txt once instead of 200 times, from ``FINSENT_DATA_DIR/cache/robots/`` (0600 files in 0700
folders, like everything finsent writes there; the origin is stored with its password masked).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import urllib.parse
import urllib.robotparser
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from finsent.errors import RobotsDisallowedError
from finsent.logs.redact import mask_urls
from finsent.names import write_private

log = logging.getLogger(__name__)

ROBOTS_AGENT = "finsent"
# How long a fetched robots.txt serves every process sharing FINSENT_DATA_DIR (RFC 9309 allows up to
# 24 hours): a day's crawl of 200 boards, one Airflow task each, reads it once instead of 200 times.
ROBOTS_CACHE_TTL_S = 3600.0

# fetch(robots_url) -> (HTTP status, text)
RobotsFetch = Callable[[str], tuple[int, str]]


def matching_robots_rule(parser: urllib.robotparser.RobotFileParser, agent: str, url: str) -> str:
    """The robots.txt line that decides ``url`` for ``agent`` (for the error message), e.g.
    ``"Disallow: /item/ (User-agent: *)"``; urllib.robotparser only answers yes or no."""
    if parser.disallow_all:
        return "robots.txt answered 401/403: everything disallowed (RFC 9309)"
    parts = urlsplit(url)
    path = urllib.parse.quote(urllib.parse.unquote(parts.path or "/")) + (f"?{parts.query}" if parts.query else "")
    entries = [e for e in parser.entries if e.applies_to(agent)] or (
        [parser.default_entry] if parser.default_entry else [])
    for entry in entries:
        for line in entry.rulelines:
            if line.applies_to(path):
                return f"{'Allow' if line.allowance else 'Disallow'}: {line.path or '/'} " \
                       f"(User-agent: {', '.join(entry.useragents)})"
    return "no matching rule"


class RobotsRules:
    """The robots.txt of every origin a client meets, read through ``fetch`` and shared via ``cache_dir``."""

    def __init__(self, cache_dir: Path, fetch: RobotsFetch) -> None:
        self.cache_dir = cache_dir
        self.fetch = fetch
        self._parsers: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._lock = threading.Lock()

    def check(self, url: str) -> None:
        """RobotsDisallowedError (naming the rule) when robots.txt disallows ``url``."""
        parser = self._parser_for(url)
        if not parser.can_fetch(ROBOTS_AGENT, url):
            # Not retried, here or by Airflow: the answer will not change until the site's does.
            rule = matching_robots_rule(parser, ROBOTS_AGENT, url)
            raise RobotsDisallowedError(
                f"robots.txt of {mask_urls(urlsplit(url).netloc)} disallows {mask_urls(url)} ({rule}); "
                "set FINSENT_ROBOTS=ignore (or pass --ignore-robots) only if you are entitled to crawl it"
            )

    def _parser_for(self, url: str) -> urllib.robotparser.RobotFileParser:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            parser = self._parsers.get(origin)
            if parser is not None:
                return parser
            robots_url = f"{origin}/robots.txt"
            parser = urllib.robotparser.RobotFileParser(robots_url)
            status, text = self._shared(origin, robots_url)
            if status in (401, 403):
                parser.disallow_all = True  # RFC 9309: access denied means "disallow all"
            elif status >= 400:
                parser.allow_all = True  # no robots.txt: everything allowed
            else:
                parser.parse(text.splitlines())
            self._parsers[origin] = parser
            return parser

    def _cache_file(self, origin: str) -> Path:
        return self.cache_dir / f"{hashlib.sha256(origin.encode()).hexdigest()[:20]}.json"

    def _shared(self, origin: str, robots_url: str) -> tuple[int, str]:
        """robots.txt's status and text: the copy another process fetched within the hour, else the site's."""
        path = self._cache_file(origin)
        shown = mask_urls(origin)  # the file is named by a hash of the whole origin; it never holds a password
        try:
            if time.time() - path.stat().st_mtime < ROBOTS_CACHE_TTL_S:
                cached = json.loads(path.read_text(encoding="utf-8"))
                if cached.get("origin") == shown:
                    return int(cached["status"]), str(cached["text"])
        except (OSError, ValueError, KeyError):
            pass  # no copy, or an unreadable one: fetch
        status, text = self.fetch(robots_url)
        try:
            staging = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
            write_private(staging, json.dumps({"origin": shown, "status": status, "text": text}))
            staging.replace(path)  # atomic: a reader sees the old copy or the new one, never half
        except OSError as exc:
            log.info("robots.txt of %s not cached (%s): each process reads its own", shown, exc)
        return status, text
