"""A polite HTTP client: one Session, browser headers, per-host spacing, retries, robots.txt.

Every crawler request goes through :class:`PoliteClient`, so manners live in one place:
- a browser User-Agent and a Referer (Naver serves empty pages to plain clients);
- at most one request per ``FINSENT_CRAWL_DELAY_S`` per host, shared by all threads and, given a
  database, by every process (:mod:`finsent.ingest.host_clock`);
- one deadline per request, ``FINSENT_HTTP_TIMEOUT_S`` for connecting, waiting and reading the whole
  body (:mod:`finsent.ingest.transfer`): a server that drips its answer is cut off and retried;
- retries with exponential backoff and jitter on connection errors, timeouts, 429 and 5xx; other
  4xx fail at once. A 429's Retry-After holds the host off for every process (at most
  ``MAX_HOLD_OFF_S``); one longer than ``FINSENT_HTTP_MAX_WAIT_S`` fails the ticker at once
  (HostBusyError) instead of sitting silently, and every wait for a host is logged when long;
- redirects followed here, not by ``requests``: at most ``MAX_REDIRECTS``, http(s) keeping the
  scheme, never a URL twice, each hop through its host's robots.txt and request clock; any other
  redirect is an UnusableAnswerError (quarantined by the ticker's run), as is a body that does not
  decode;
- robots.txt read once per host and obeyed (:mod:`finsent.ingest.robots`) unless the operator passes
  ``--ignore-robots`` or sets ``FINSENT_ROBOTS=ignore``; a disallowed URL fails at once (no request,
  no retry) naming the rule.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import requests

from finsent.config import Settings
from finsent.errors import FetchError, HostBusyError, UnusableAnswerError
from finsent.ingest.host_clock import sleep_for, too_long
from finsent.ingest.robots import RobotsRules
from finsent.ingest.transfer import ACCEPT_ENCODING, Answer, BodyError, DeadlinePassed, read_answer
from finsent.logs.redact import mask_urls

log = logging.getLogger(__name__)

_RETRYABLE_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    DeadlinePassed,
)
_MAX_BACKOFF_S = 60.0
# The longest a 429 holds a host off for every process: a Retry-After of a day (or a date years
# ahead) must not stop the crawl for that long; the next scheduled run asks again.
MAX_HOLD_OFF_S = 3600.0
MAX_REDIRECTS = 5


@dataclass
class RequestStats:
    """Counters a caller passes in to learn what its requests cost."""

    requests: int = 0
    retries: int = 0


class Throttle(Protocol):
    def wait(self, host: str, max_wait_s: float = math.inf) -> None: ...

    def hold_off(self, host: str, seconds: float) -> None: ...


class HostThrottle:
    """Keeps requests to one host at least ``interval_s`` apart, across all threads of one process."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}

    def wait(self, host: str, max_wait_s: float = math.inf) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, 0.0))
            if slot - now > max_wait_s:
                raise too_long(host, slot - now, max_wait_s)
            self._next_slot[host] = slot + self.interval_s
        sleep_for(host, slot - now)

    def hold_off(self, host: str, seconds: float) -> None:
        """Push the host's next slot out (a 429 with Retry-After speaks for the whole host)."""
        with self._lock:
            self._next_slot[host] = max(self._next_slot.get(host, 0.0), time.monotonic() + seconds)


def host_of(url: str) -> str:
    """``HOST[:PORT]`` of ``url``, without any credentials (it keys the host's clock and its log lines)."""
    return urlsplit(url).netloc.rpartition("@")[2]


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header: delta-seconds or an HTTP date (as asked: the caller caps it)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class PoliteClient:
    def __init__(self, settings: Settings, *, ignore_robots: bool = False, throttle: Throttle | None = None) -> None:
        self.settings = settings
        self.ignore_robots = ignore_robots
        self.session = requests.Session()
        self.session.headers.update(
            {
                "User-Agent": settings.user_agent,
                "Accept-Language": "ko-KR,ko;q=0.9,en;q=0.8",
                "Accept-Encoding": ACCEPT_ENCODING,
            }
        )
        # Given a shared throttle (SharedHostClock), the delay holds across processes.
        self.throttle: Throttle = throttle or HostThrottle(settings.crawl_delay_s)
        self.robots = RobotsRules(settings.data_dir / "cache" / "robots", self._fetch_robots)
        if ignore_robots:
            log.warning(
                "robots.txt is IGNORED for this run (--ignore-robots or FINSENT_ROBOTS=ignore): the operator "
                "takes responsibility for crawling paths the site may disallow"
            )

    def close(self) -> None:
        self.session.close()

    def check_robots(self, url: str) -> None:
        if not self.ignore_robots:
            self.robots.check(url)

    def _fetch_robots(self, robots_url: str) -> tuple[int, str]:
        answer = self._follow(robots_url, None, RequestStats(), obey_robots=False, allow_status=(404, 401, 403, 410))
        return answer.status_code, answer.text

    # -- requests --------------------------------------------------------------------------------

    def get(
        self,
        url: str,
        params: dict[str, str] | None = None,
        *,
        referer: str | None = None,
        stats: RequestStats | None = None,
    ) -> Answer:
        """GET with manners, redirects and retries; raises FetchError when it gives up."""
        full_url = requests.Request("GET", url, params=params).prepare().url or url
        return self._follow(full_url, referer, stats or RequestStats(), obey_robots=not self.ignore_robots)

    def _follow(self, url: str, referer: str | None, stats: RequestStats, *, obey_robots: bool,
                allow_status: tuple[int, ...] = ()) -> Answer:
        """The answer at the end of ``url``'s redirects (each hop checked, robots.txt and clock included)."""
        chain = [url]
        while True:
            if obey_robots:
                self.robots.check(url)
            answer = self._send(url, referer, stats, allow_status)
            location = answer.redirect_location
            if location is None:
                return answer
            url = self._next_hop(answer, location, chain)
            chain.append(url)

    @staticmethod
    def _next_hop(answer: Answer, location: str, chain: list[str]) -> str:
        current = chain[-1]
        target = urljoin(current, location.strip())
        scheme, before = urlsplit(target).scheme.lower(), urlsplit(current).scheme.lower()
        problem = None
        if scheme not in ("http", "https") or scheme != before:
            problem = f"redirected to {target}: only http(s) redirects that keep the scheme ({before}) are followed"
        elif target in chain:
            problem = f"redirect loop: {target} again after {len(chain)} request(s)"
        elif len(chain) > MAX_REDIRECTS:
            problem = f"more than {MAX_REDIRECTS} redirects (last to {target})"
        if problem is not None:
            raise UnusableAnswerError(current, problem, body=answer.content,
                                      content_type=answer.headers.get("Content-Type"), redirects=chain)
        if host_of(target) != host_of(current):
            log.info("%s redirects to another host: %s (its robots.txt and request clock apply)",
                     mask_urls(current), mask_urls(target))
        return target

    def _send(self, url: str, referer: str | None, stats: RequestStats,
              allow_status: tuple[int, ...] = ()) -> Answer:
        """One URL, retried; its answer (a redirect too) or FetchError."""
        host = host_of(url)
        headers = {"Referer": referer} if referer else {}
        attempts = self.settings.http_retries + 1
        last_problem = ""
        for attempt in range(attempts):
            if attempt:
                stats.retries += 1
            self.throttle.wait(host, self.settings.http_max_wait_s)
            stats.requests += 1
            wait_s: float | None = None
            try:
                answer = self._attempt(url, headers)
            except _RETRYABLE_EXCEPTIONS as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                status = answer.status_code
                if status < 400 or status in allow_status:
                    return answer
                last_problem = f"HTTP {status}"
                if status == 429:
                    wait_s = self._rate_limited(host, answer)
                elif status < 500:
                    raise FetchError(f"GET {answer.url} answered HTTP {status}")
            if attempt + 1 < attempts:
                backoff = self._backoff(attempt) if wait_s is None else wait_s
                log.warning("GET %s: %s; retry %d/%d in %.1fs", mask_urls(url), last_problem, attempt + 1,
                            attempts - 1, backoff)
                time.sleep(backoff)
        raise FetchError(f"GET {url} failed after {attempts} attempts: {last_problem}")

    def _attempt(self, url: str, headers: dict[str, str]) -> Answer:
        """One request, read whole within FINSENT_HTTP_TIMEOUT_S of its start."""
        timeout = self.settings.http_timeout_s
        deadline = time.monotonic() + timeout
        response = self.session.get(url, headers=headers, timeout=(timeout, timeout), stream=True,
                                    allow_redirects=False)
        try:
            return read_answer(response, deadline)
        except BodyError as exc:
            raise UnusableAnswerError(response.url, str(exc), body=exc.raw,
                                      content_type=response.headers.get("Content-Type")) from None

    def _rate_limited(self, host: str, answer: Answer) -> float | None:
        """Hold ``host`` off as a 429 asks (capped); the seconds to wait, or HostBusyError when too long."""
        asked = retry_after_seconds(answer.headers.get("Retry-After"))
        if asked is None:
            return None
        held = min(asked, MAX_HOLD_OFF_S)
        self.throttle.hold_off(host, held)
        limit = self.settings.http_max_wait_s
        if asked > limit:
            raise HostBusyError(f"{host} answered 429 asking to wait {asked:.0f} s (Retry-After), more than "
                                f"FINSENT_HTTP_MAX_WAIT_S={limit:g}: not waiting; every finsent process holds "
                                f"{host} off for {held:.0f} s and a later run crawls this ticker")
        log.warning("%s answered 429: waiting %.1f s as it asks (Retry-After)", host, asked)
        return asked

    def _backoff(self, attempt: int) -> float:
        base = self.settings.retry_backoff_s * (2**attempt)
        return min(_MAX_BACKOFF_S, base * (0.5 + random.random()))  # full jitter around the base
