"""A loopback fake of Naver Finance that speaks the real formats (see shared/naver/SOURCES.md).

Nothing on the build machines can reach Naver, so the crawler is tested against this server. It
serves, on one ``127.0.0.1`` port:

* ``/front-api/discussion/list``          the live JSON board (opaque cursor paging)
* ``/item/board.naver`` (and ``.nhn``)    the legacy EUC-KR HTML board (page numbers)
* ``/sise.nhn``                           fchart XML daily prices (split-adjusted)
* ``/siseJson.naver``                     the JavaScript-array daily prices (split-adjusted)
* ``/item/sise_day.naver`` (and ``.nhn``) the legacy EUC-KR HTML daily prices (NOT adjusted)
* ``/api/news/stock/CODE``                 per-stock news headlines, story clusters (``news``)
* ``/front-api/discussion/detail``        one post's whole body (``threads``)
* ``/front-api/discussion/comment/counts`` comment counts of up to 20 posts
* ``/commentBox/cbox/web_naver_list_jsonp.json`` comments (CBOX, JSONP)
* ``/robots.txt``

All data is synthetic and deterministic for a given seed. Tests can add posts (also in the middle
of a crawl) and inject faults (5xx, 429, dropped connections, slow and dripping answers, malformed,
empty and badly gzipped bodies, redirects, poisoned items, looping pages: :mod:`finsent.loopback.faults`).
Stdlib only, so it runs anywhere the tests run.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from finsent.loopback import faults
from finsent.loopback.content import (
    DEFAULT_TICKERS,
    LEAK_CANDIDATES,
    TEXT_CT,
    Arrival,
    Fault,
    Post,
    PriceRow,
    Response,
)
from finsent.loopback.generate import BoardGenerator
from finsent.loopback.news import NEWS_CONTENT_TYPE, NEWS_PREFIX, NewsDesk
from finsent.loopback.pages import NaverPages
from finsent.loopback.threads import CBOX_PATH, COUNTS_PATH, DETAIL_PATH, ThreadDesk
from finsent.loopback.worlds import PlantedWorlds


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that remembers its open connections so stop() can cut keep-alives."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeNaver, host: str, port: int) -> None:
        self.fake = fake
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real site; Content-Length always set
    timeout = 30  # idle keep-alive connections end on their own
    server: _Server

    def do_GET(self) -> None:
        self.server.fake.handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests stay quiet


class FakeNaver(BoardGenerator, NaverPages, NewsDesk, ThreadDesk, PlantedWorlds):
    """Loopback Naver: board (JSON + legacy HTML, post details, comments), news and daily prices
    (fchart, siseJson, sise_day).

    Use as a context manager, or call start()/stop(). All public lists are mutated only under an
    internal lock; read them from tests after the crawl (or copy them under ``with fake.lock``).
    """

    def __init__(
        self,
        tickers: Mapping[str, str] = DEFAULT_TICKERS,
        posts_per_ticker: int = 120,
        seed: int = 0,
        first_post_at: datetime = datetime(2026, 9, 1, 8, 0),
        post_spacing: timedelta = timedelta(minutes=7),
        price_start: date = date(2024, 1, 2),
        price_end: date = date(2026, 11, 20),
        page_size_cap: int = 100,
        robots_txt: str = "User-agent: *\nAllow: /\n",
        stories_per_ticker: int = 60,
    ) -> None:
        if not tickers:
            raise ValueError("FakeNaver needs at least one ticker")
        self.tickers: dict[str, str] = dict(tickers)
        self.posts_per_ticker = posts_per_ticker
        self.seed = seed
        self.first_post_at = first_post_at.replace(microsecond=0)
        self.post_spacing = post_spacing
        self.price_start = price_start
        self.price_end = price_end
        self.page_size_cap = page_size_cap
        self.robots_txt = robots_txt
        # How the JSON board answers past the oldest post: "repeat" (lastOffset = the offset that
        # was sent), "omit" (no lastOffset key) or "null". SOURCES.md allows all; tests may switch.
        self.json_end_style = "repeat"

        self.lock = threading.RLock()
        self._rng = random.Random(seed)
        self.posts: dict[str, list[Post]] = {t: [] for t in self.tickers}
        self.prices: dict[str, list[PriceRow]] = {}
        self.raw_prices: dict[str, list[PriceRow]] = {}
        self.split_date: dict[str, date] = {}  # ticker -> first session on the new share basis
        self.halt_date: dict[str, date] = {}
        self.requests_log: list[tuple[str, dict[str, str]]] = []
        self.faults_served: list[tuple[str, str]] = []  # (path, kind) of every fault answered
        self._leak_ticker = next((c for c in LEAK_CANDIDATES if c not in self.tickers), "999990")
        self._leak_posts: list[Post] = []
        self._deleted_ids: list[int] = []  # ids never served: parents of "deleted parent" replies
        self._last_id = 0
        self._last_time = self.first_post_at
        self._list_count = 0
        self._list_count_by_ticker: dict[str, int] = {}
        self._arrivals: list[Arrival] = []
        self._faults: list[Fault] = []
        self._offsets_sent: dict[str, str | None] = {}  # ticker -> the cursor its last JSON list request sent
        self._foreign_rate: dict[str, dict[date, float]] = {}
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

        self._generate_posts()
        self._generate_prices()
        self._generate_news(stories_per_ticker)
        self._generate_comments()

    # ---------------------------------------------------------------- lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeNaver:
        """Bind ``host`` (127.0.0.1; a container binds its own interfaces) on ``port`` (0: a free one)
        and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._httpd = _Server(self, host, port)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeNaver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.close_all_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeNaver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (only after start()); 127.0.0.1 when it listens on every interface."""
        if self._httpd is None:
            raise RuntimeError("FakeNaver is not started")
        host = self._httpd.server_address[0]
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self._httpd.server_address[1]}"

    # ---------------------------------------------------------------- test controls

    def add_posts(self, ticker: str, n: int) -> list[Post]:
        """Add n posts to ticker, newer than every post so far and with larger ids."""
        if ticker not in self.tickers:
            raise KeyError(f"unknown ticker {ticker!r}")
        added: list[Post] = []
        with self.lock:
            # New posts arrive now, seconds apart: a board never shows posts from the future.
            step = max(1, min(60, int(self.post_spacing.total_seconds())))
            for _ in range(n):
                when = self._last_time + timedelta(seconds=self._rng.randint(1, step))
                pid = self._next_id()
                post = self._make_post(ticker, pid, when)
                self.posts[ticker].append(post)
                if post.comment_count:
                    self._make_comments(post, post.comment_count)
                self._last_time = when
                added.append(post)
        return added

    def arrive_during_crawl(self, ticker: str, n: int, after_requests: int) -> None:
        """Add n posts to ticker once after_requests more board-list requests have been served.

        Counted from this call, over JSON and legacy HTML list requests of any ticker; fires once.
        """
        if ticker not in self.tickers:
            raise KeyError(f"unknown ticker {ticker!r}")
        with self.lock:
            self._arrivals.append(Arrival(ticker, n, self._list_count + after_requests))
            self._fire_arrivals()

    def inject(self, path: str, kind: str, times: int = 1, after: int = 0, **kw: Any) -> None:
        """Answer ``times`` requests for exactly ``path``, after ``after`` normal ones, with a fault of
        ``kind`` (see :mod:`finsent.loopback.faults` for the kinds and their options). Faults on one
        path queue up in order."""
        faults.check(kind, kw)
        with self.lock:
            self._faults.append(Fault(path, kind, times, dict(kw), skip=after))

    def render(self, path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
        """Answer a request without HTTP (status, content type, body): for benchmarks of the parsers."""
        with self.lock:
            response = self._route(path, query)
        return response.status, response.content_type, response.body

    def list_requests(self, ticker: str | None = None) -> int:
        """Board-list requests (JSON + legacy HTML) answered normally, optionally for one ticker."""
        with self.lock:
            if ticker is None:
                return self._list_count
            return self._list_count_by_ticker.get(ticker, 0)

    def all_posts(self) -> list[Post]:
        """Every served post of every ticker, oldest first (a snapshot)."""
        with self.lock:
            merged = [p for ps in self.posts.values() for p in ps]
        return sorted(merged, key=lambda p: p.id)

    # ---------------------------------------------------------------- request plumbing

    def handle(self, handler: _Handler) -> None:
        """Answer one GET request (the server's request handler calls it)."""
        parts = urlsplit(handler.path)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self.lock:
            self.requests_log.append((path, dict(query)))
            fault = self._take_fault(path)
            if fault is not None:
                self.faults_served.append((path, fault.kind))
            previous_offset = self._note_offset(path, query)

        early = faults.early_answer(fault, handler.path) if fault is not None else None
        if early is faults.DROP:
            handler.close_connection = True  # nothing written: the client sees EOF
            return
        if early is not None:
            self._send(handler, early)
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(float(fault.kw.get("seconds", 3)))
        response = self._route(path, faults.looped_query(fault, query))
        if fault is not None and fault.kind in faults.REWRITE_KINDS and response.status == 200:
            response = faults.rewritten(fault, response, previous_offset)
        # Count before answering: a client that reads list_requests() right after its response
        # must see its own request counted.
        normal = fault is None or fault.kind in faults.SERVES_THE_LIST
        if normal and response.status == 200 and response.list_ticker is not None:
            with self.lock:
                self._list_count += 1
                key = response.list_ticker
                self._list_count_by_ticker[key] = self._list_count_by_ticker.get(key, 0) + 1
                self._fire_arrivals()
        self._send(handler, response, fault)

    def _note_offset(self, path: str, query: dict[str, str]) -> str | None:
        """Remember the cursor a JSON board request sent; return the one its ticker's previous request sent."""
        if path != "/front-api/discussion/list":
            return None
        code = query.get("itemCode", "")
        previous = self._offsets_sent.get(code)
        self._offsets_sent[code] = query.get("offset") or None
        return previous

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.path != path or fault.remaining <= 0:
                continue
            if fault.skip > 0:
                fault.skip -= 1
                return None
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.remove(fault)
            return fault
        return None

    def _fire_arrivals(self) -> None:
        due = [a for a in self._arrivals if self._list_count >= a.after]
        for arrival in due:
            self._arrivals.remove(arrival)
            self.add_posts(arrival.ticker, arrival.n)

    @staticmethod
    def _send(handler: _Handler, response: Response, fault: Fault | None = None) -> None:
        try:
            faults.send(handler, response, fault)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # client gave up (e.g. its timeout on a slow fault)

    def _route(self, path: str, q: dict[str, str]) -> Response:
        if path == "/front-api/discussion/list":
            return self._discussion_json(q)
        if path in ("/item/board.naver", "/item/board.nhn"):
            return self._board_html(path, q)
        if path == "/sise.nhn":
            return self._fchart(q)
        if path == "/siseJson.naver":
            return self._sise_json(q)
        if path in ("/item/sise_day.naver", "/item/sise_day.nhn"):
            return self._sise_day_html(path, q)
        if path.startswith(NEWS_PREFIX):
            status, body = self._news_json(path, q)
            return Response(status, NEWS_CONTENT_TYPE, body)
        if path == DETAIL_PATH:
            return self._detail_json(q)
        if path == COUNTS_PATH:
            return self._comment_counts(q)
        if path == CBOX_PATH:
            return self._cbox(q)
        if path == "/robots.txt":
            return Response(200, TEXT_CT, self.robots_txt.encode("utf-8"))
        return Response(404, TEXT_CT, b"Not Found\n")


def main(argv: list[str] | None = None) -> None:
    """Serve a loopback Naver until interrupted (``make demo`` uses it): posts over the last days."""
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(description="loopback Naver for demos and tests")
    parser.add_argument("--tickers", default="005930,000660")
    parser.add_argument("--posts-per-ticker", type=int, default=400)
    parser.add_argument("--days", type=int, default=120, help="posts spread over this many days up to now")
    parser.add_argument("--url-file", help="write the base URL here once serving")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--signal", type=float, default=0.0,
                        help="share of posts whose title foretells the next session's move (the demo: 0.6)")
    parser.add_argument("--body-signal", type=float, default=0.0,
                        help="share of posts with a neutral title and the view in the body (plant_body_signal)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 inside a container)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: a free one)")
    args = parser.parse_args(argv)
    from finsent.config import DEFAULT_TICKERS

    codes = [c for c in args.tickers.split(",") if c]
    now = datetime.now().replace(minute=0, second=0, microsecond=0)
    fake = FakeNaver(tickers={c: DEFAULT_TICKERS.get(c, c) for c in codes}, posts_per_ticker=args.posts_per_ticker,
                     seed=args.seed, first_post_at=now - timedelta(days=args.days),
                     post_spacing=timedelta(days=args.days) / args.posts_per_ticker,
                     price_start=(now - timedelta(days=args.days + 60)).date(), price_end=now.date(),
                     stories_per_ticker=max(1, args.posts_per_ticker // 2))
    if args.signal:
        sys.stdout.write(f"planted a signal in {fake.plant_signal(args.signal)} post titles and "
                         f"{fake.plant_news_signal(min(1.0, args.signal + 0.2))} news headlines\n")
    if args.body_signal:
        sys.stdout.write(f"planted a view in {fake.plant_body_signal(args.body_signal)} post bodies\n")
    fake.start(args.host, args.port)
    if args.url_file:
        with open(args.url_file, "w", encoding="utf-8") as handle:
            handle.write(fake.base_url)
    sys.stdout.write(f"loopback Naver at {fake.base_url}\n")
    sys.stdout.flush()
    signal.sigwait({signal.SIGINT, signal.SIGTERM})
    fake.stop()


if __name__ == "__main__":
    main()
