"""A polite HTTP client: one Session, browser headers, per-host spacing, retries, robots.txt.

Every crawler request goes through :class:`PoliteClient`, so manners live in one place:
- a browser User-Agent and a Referer (Naver serves empty pages to plain clients);
- at most one request per ``FINSENT_CRAWL_DELAY_S`` per host, shared by all threads and, given a
  database, by every process (:mod:`finsent.ingest.host_clock`);
- retries with exponential backoff and jitter on connection errors, timeouts, 429 (Retry-After
  honoured) and 5xx; other 4xx fail at once;
- robots.txt read once per host and obeyed (one copy an hour shared by every process on the data folder:
  each Airflow crawl task is a process of its own) unless the operator passes ``--ignore-robots`` or sets
  ``FINSENT_ROBOTS=ignore``; a disallowed URL fails at once (no request, no retry) naming the rule.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import random
import threading
import time
import urllib.parse
import urllib.robotparser
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import requests

from finsent.config import Settings
from finsent.errors import FetchError, RobotsDisallowedError

log = logging.getLogger(__name__)

_RETRYABLE_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
_MAX_BACKOFF_S = 60.0
_MAX_RETRY_AFTER_S = 300.0
ROBOTS_AGENT = "finsent"
# How long a fetched robots.txt serves every process sharing FINSENT_DATA_DIR (RFC 9309 allows up to
# 24 hours): a day's crawl of 200 boards, one Airflow task each, reads it once instead of 200 times.
ROBOTS_CACHE_TTL_S = 3600.0


@dataclass
class RequestStats:
    """Counters a caller passes in to learn what its requests cost."""

    requests: int = 0
    retries: int = 0


class Throttle(Protocol):
    def wait(self, host: str) -> None: ...

    def hold_off(self, host: str, seconds: float) -> None: ...


class HostThrottle:
    """Keeps requests to one host at least ``interval_s`` apart, across all threads."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}

    def wait(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, 0.0))
            self._next_slot[host] = slot + self.interval_s
        if slot > now:
            time.sleep(slot - now)

    def hold_off(self, host: str, seconds: float) -> None:
        """Push the host's next slot out (a 429 with Retry-After speaks for the whole host)."""
        with self._lock:
            self._next_slot[host] = max(self._next_slot.get(host, 0.0), time.monotonic() + seconds)


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when.timestamp() - time.time()), _MAX_RETRY_AFTER_S)


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


class PoliteClient:
    def __init__(self, settings: Settings, *, ignore_robots: bool = False, throttle: Throttle | None = None) -> None:
        self.settings = settings
        self.ignore_robots = ignore_robots
        self.session = requests.Session()
        self.session.headers.update(
            {
                "User-Agent": settings.user_agent,
                "Accept-Language": "ko-KR,ko;q=0.9,en;q=0.8",
            }
        )
        # Given a shared throttle (SharedHostClock), the delay holds across processes.
        self.throttle: Throttle = throttle or HostThrottle(settings.crawl_delay_s)
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._robots_lock = threading.Lock()
        if ignore_robots:
            log.warning(
                "robots.txt is IGNORED for this run (--ignore-robots or FINSENT_ROBOTS=ignore): the operator "
                "takes responsibility for crawling paths the site may disallow"
            )

    def close(self) -> None:
        self.session.close()

    # -- robots.txt ------------------------------------------------------------------------------

    def _robots_for(self, url: str) -> urllib.robotparser.RobotFileParser:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:
            parser = self._robots.get(origin)
            if parser is not None:
                return parser
            robots_url = f"{origin}/robots.txt"
            parser = urllib.robotparser.RobotFileParser(robots_url)
            status, text = self._shared_robots(origin, robots_url)
            if status in (401, 403):
                parser.disallow_all = True  # RFC 9309: access denied means "disallow all"
            elif status >= 400:
                parser.allow_all = True  # no robots.txt: everything allowed
            else:
                parser.parse(text.splitlines())
            self._robots[origin] = parser
            return parser

    def _robots_cache_file(self, origin: str) -> Path:
        return self.settings.data_dir / "cache" / "robots" / f"{hashlib.sha256(origin.encode()).hexdigest()[:20]}.json"

    def _shared_robots(self, origin: str, robots_url: str) -> tuple[int, str]:
        """robots.txt's status and text: the copy another process fetched within the hour, else the site's."""
        path = self._robots_cache_file(origin)
        try:
            if time.time() - path.stat().st_mtime < ROBOTS_CACHE_TTL_S:
                cached = json.loads(path.read_text(encoding="utf-8"))
                if cached.get("origin") == origin:
                    return int(cached["status"]), str(cached["text"])
        except (OSError, ValueError, KeyError):
            pass  # no copy, or an unreadable one: fetch
        response = self._send(robots_url, None, None, RequestStats(), allow_status=(404, 401, 403, 410))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            staging.write_text(json.dumps({"origin": origin, "status": response.status_code, "text": response.text}),
                               encoding="utf-8")
            staging.replace(path)  # atomic: a reader sees the old copy or the new one, never half
        except OSError as exc:
            log.info("robots.txt of %s not cached (%s): each process reads its own", origin, exc)
        return response.status_code, response.text

    def check_robots(self, url: str) -> None:
        if self.ignore_robots:
            return
        parser = self._robots_for(url)
        if not parser.can_fetch(ROBOTS_AGENT, url):
            # Not retried, here or by Airflow: the answer will not change until the site's does.
            rule = matching_robots_rule(parser, ROBOTS_AGENT, url)
            raise RobotsDisallowedError(
                f"robots.txt of {urlsplit(url).netloc} disallows {url} ({rule}); "
                "set FINSENT_ROBOTS=ignore (or pass --ignore-robots) only if you are entitled to crawl it"
            )

    # -- requests --------------------------------------------------------------------------------

    def get(
        self,
        url: str,
        params: dict[str, str] | None = None,
        *,
        referer: str | None = None,
        stats: RequestStats | None = None,
    ) -> requests.Response:
        """GET with manners and retries; raises FetchError when it gives up."""
        full_url = requests.Request("GET", url, params=params).prepare().url or url
        self.check_robots(full_url)
        return self._send(url, params, referer, stats or RequestStats())

    def _send(
        self,
        url: str,
        params: dict[str, str] | None,
        referer: str | None,
        stats: RequestStats,
        allow_status: tuple[int, ...] = (),
    ) -> requests.Response:
        host = urlsplit(url).netloc
        headers = {"Referer": referer} if referer else {}
        attempts = self.settings.http_retries + 1
        last_problem = ""
        for attempt in range(attempts):
            if attempt:
                stats.retries += 1
            self.throttle.wait(host)
            stats.requests += 1
            wait_s: float | None = None
            try:
                response = self.session.get(
                    url, params=params, headers=headers, timeout=self.settings.http_timeout_s
                )
            except _RETRYABLE_EXCEPTIONS as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status < 400 or status in allow_status:
                    return response
                last_problem = f"HTTP {status}"
                if status == 429:
                    wait_s = retry_after_seconds(response.headers.get("Retry-After"))
                    if wait_s is not None:
                        self.throttle.hold_off(host, wait_s)
                elif status < 500:
                    raise FetchError(f"GET {response.url} answered HTTP {status}")
            if attempt + 1 < attempts:
                backoff = self._backoff(attempt) if wait_s is None else wait_s
                log.warning(
                    "GET %s: %s; retry %d/%d in %.1fs", url, last_problem, attempt + 1, attempts - 1, backoff
                )
                time.sleep(backoff)
        raise FetchError(f"GET {url} params={params or {}} failed after {attempts} attempts: {last_problem}")

    def _backoff(self, attempt: int) -> float:
        base = self.settings.retry_backoff_s * (2**attempt)
        return min(_MAX_BACKOFF_S, base * (0.5 + random.random()))  # full jitter around the base
