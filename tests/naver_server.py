"""A loopback fake of Naver Finance that speaks the real formats (see shared/naver/SOURCES.md).

Nothing on the build machines can reach Naver, so the crawler is tested against this server. It
serves, on one ``127.0.0.1`` port:

* ``/front-api/discussion/list``          the live JSON board (opaque cursor paging)
* ``/item/board.naver`` (and ``.nhn``)    the legacy EUC-KR HTML board (page numbers)
* ``/sise.nhn``                           fchart XML daily prices (split-adjusted)
* ``/siseJson.naver``                     the JavaScript-array daily prices (split-adjusted)
* ``/item/sise_day.naver`` (and ``.nhn``) the legacy EUC-KR HTML daily prices (NOT adjusted)
* ``/robots.txt``

All data is synthetic and deterministic for a given seed. Tests can add posts (also in the middle
of a crawl) and inject faults (5xx, 429, dropped connections, slow, malformed and empty answers).
Stdlib only, so it runs anywhere the tests run.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import random
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeNaver", "Post", "PriceRow", "DEFAULT_TICKERS", "KRX_HOLIDAYS", "CLEANBOT_HIDDEN_TEXT"]

DEFAULT_TICKERS: Mapping[str, str] = {"005930": "삼성전자", "000660": "SK하이닉스"}

# A few fixed exchange holidays, so "business day" and "session" differ as they do on the KRX.
KRX_HOLIDAYS: frozenset[date] = frozenset(
    {
        date(2024, 1, 1), date(2024, 2, 9), date(2024, 2, 12), date(2024, 4, 10), date(2024, 5, 6),
        date(2024, 5, 15), date(2024, 6, 6), date(2024, 8, 15), date(2024, 9, 16), date(2024, 9, 17),
        date(2024, 9, 18), date(2024, 10, 3), date(2024, 10, 9), date(2024, 12, 25), date(2024, 12, 31),
        date(2025, 1, 1), date(2025, 1, 28), date(2025, 1, 29), date(2025, 1, 30), date(2025, 3, 3),
        date(2025, 5, 5), date(2025, 5, 6), date(2025, 6, 3), date(2025, 6, 6), date(2025, 8, 15),
        date(2025, 10, 3), date(2025, 10, 6), date(2025, 10, 7), date(2025, 10, 8), date(2025, 10, 9),
        date(2025, 12, 25), date(2025, 12, 31), date(2026, 1, 1), date(2026, 2, 16), date(2026, 2, 17),
        date(2026, 2, 18), date(2026, 3, 2), date(2026, 5, 5), date(2026, 5, 25), date(2026, 8, 17),
        date(2026, 9, 24), date(2026, 9, 25), date(2026, 10, 5), date(2026, 10, 9),
    }
)

CLEANBOT_HIDDEN_TEXT = "클린봇이 이용자 보호를 위해 숨긴 게시글입니다."
DELETED_PARENT_PREFIX = "[삭제된 게시물의 답글]"
SPLIT_RATIO = 50

# The query parameters the live JSON board expects; leaving any out makes it leak other stocks.
JSON_REQUIRED_PARAMS = (
    "discussionType",
    "itemCode",
    "pageSize",
    "isHolderOnly",
    "excludesItemNews",
    "isItemNewsOnly",
)
BOARD_PAGE_SIZE = 20
SISE_DAY_PAGE_SIZE = 10
HTML_TITLE_MAX = 40
# Stocks whose posts leak into a JSON answer when a parameter is missing (never served otherwise).
_LEAK_CANDIDATES = ("035720", "035420", "005380", "000270", "068270", "105560")

_HTML_CT = "text/html;charset=EUC-KR"
_JSON_CT = "application/json;charset=UTF-8"
_XML_CT = "text/xml;charset=EUC-KR"
_JS_CT = "text/plain;charset=UTF-8"
_TEXT_CT = "text/plain;charset=UTF-8"


@dataclass(frozen=True)
class Post:
    """One discussion-board post, as the fake stores it (frozen: shared between threads)."""

    id: int
    ticker: str
    written_at: datetime  # KST, naive, second resolution
    title: str
    body_html: str
    body_text: str | None
    nickname: str  # masked, e.g. 'abcd****'
    profile_id: str
    holder_verified: bool
    reply_depth: int
    parent_id: int | None
    cleanbot_passed: bool
    comment_count: int
    likes: int
    dislikes: int
    views: int | None
    post_type: str  # 'normal' | 'itemNewsResearch'


@dataclass(frozen=True)
class PriceRow:
    """One daily OHLCV row (KRW, shares). A halt row has open=high=low=volume=0."""

    trade_date: date
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass
class _Fault:
    path: str
    kind: str
    remaining: int
    kw: dict[str, Any]


@dataclass
class _Arrival:
    ticker: str
    n: int
    after: int  # absolute value of the list-request counter that triggers it


@dataclass
class _Response:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    # Set for board-list answers (JSON or HTML): the ticker asked for, for list_requests/arrivals.
    list_ticker: str | None = None


# --------------------------------------------------------------------------------------------
# Synthetic text
# --------------------------------------------------------------------------------------------

_BULLISH = [
    "{name} 내일은 무조건 반등합니다",
    "외인 순매수 들어오네요 ㅋㅋ",
    "실적 발표 기대됩니다 홀딩",
    "여기서 더 모아가는 게 맞다고 봄",
    "가즈아 🚀🚀",
    "바닥 다졌다 이제 올라갈 일만",
    "목표가 상향 리포트 나왔네요",
    "장투하면 결국 이깁니다 😎",
]
_BEARISH = [
    "물렸습니다 ㅠㅠ 언제 탈출하나",
    "오늘도 파란불이네",
    "손절하고 떠납니다",
    "개미 털기 지겹다 진짜",
    "이 가격이면 아직 비싸다",
    "공매도 세력 또 시작이냐",
    "멘탈 나감 😭",
    "하락 추세 끝 안 보임",
]
_OFF_TOPIC = [
    "국회는 오늘도 싸우는구나",
    "여론조사 결과 보셨나요?",
    "정치 얘기 좀 그만합시다",
    "선거 끝나면 증시 어떻게 될까",
    "점심 뭐 먹지",
    "주말에 등산 가실 분",
]
_ADS = [
    "무료 리딩방 입장 문의 010-{a}-{b}",
    "수익률 300% 보장 → https://bit.ly/{slug}",
    "급등주 무료 추천 카톡 open.kakao.com/o/{slug}",
    "VIP 종목 상담 ☎ 010-{a}-{b} 선착순",
]
_SPECIAL = [
    'CEO "올해 증설 계획 그대로"…주가는?',
    "PER < 10 이면 싼 거 아님?",
    "R&D 투자 늘린다 & 배당도 늘리나",
    "<속보> 외국인 대량 매도",
    "'이번엔 다르다'는 말 믿어도 되나",
    "A&B 합병설 \"사실무근\"",
]
_LONG_PARTS = [
    "솔직히 말해서 지금 이 가격대에서",
    "추가 매수를 해야 할지 말아야 할지",
    "고민이 너무 많이 되는데 여러분 생각은",
    "어떠신지 궁금해서 글 남겨봅니다",
    "지난 분기 실적이랑 비교해 보면",
    "외국인 수급이 계속 빠지는 게 마음에 걸려요",
]
_NEWS = [
    "[리서치] {name} 목표주가 상향, 업황 회복 반영",
    "[리서치] {name} 4분기 실적 프리뷰",
    "[뉴스] {name}, 신규 설비 투자 발표",
]
_BODY_LINES = [
    "오늘 장 보니까 거래량이 많이 붙네요.",
    "다들 어떻게 대응하시나요?",
    "저는 일단 반만 정리했습니다.",
    "뉴스 나오기 전에 이미 올랐던 듯.",
    "차트상으로는 지지선 근처입니다.",
    "배당 기준일 확인하세요.",
    "A < B & C > D 같은 말장난은 그만",
]
_NICK_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _round_tick(price: float) -> int:
    """Round to the 100-won tick used for 50,000-200,000 won stocks (never below one tick)."""
    return max(100, int(round(price / 100.0)) * 100)


def _encode_cursor(post_id: int, code: str) -> str:
    # Opaque on purpose: clients must echo lastOffset back, never compute it from an id.
    return base64.urlsafe_b64encode(f"v1|{post_id}|{code}".encode()).decode("ascii")


def _decode_cursor(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        tag, post_id, _code = raw.split("|", 2)
        if tag != "v1":
            return None
        return int(post_id)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that remembers its open connections so stop() can cut keep-alives."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeNaver) -> None:
        self.fake = fake
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

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

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        self.server.fake._handle(self)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # tests stay quiet


class FakeNaver:
    """Loopback Naver: board (JSON + legacy HTML) and daily prices (fchart, siseJson, sise_day).

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
        self._leak_ticker = next((c for c in _LEAK_CANDIDATES if c not in self.tickers), "999990")
        self._leak_posts: list[Post] = []
        self._deleted_ids: list[int] = []  # ids never served: parents of "deleted parent" replies
        self._last_id = 0
        self._last_time = self.first_post_at
        self._list_count = 0
        self._list_count_by_ticker: dict[str, int] = {}
        self._arrivals: list[_Arrival] = []
        self._faults: list[_Fault] = []
        self._foreign_rate: dict[str, dict[date, float]] = {}
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

        self._generate_posts()
        self._generate_prices()

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeNaver:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._httpd = _Server(self)
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
        """``http://127.0.0.1:PORT`` (only after start())."""
        if self._httpd is None:
            raise RuntimeError("FakeNaver is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ---------------------------------------------------------------- test controls

    def add_posts(self, ticker: str, n: int) -> list[Post]:
        """Add n posts to ticker, newer than every post so far and with larger ids."""
        if ticker not in self.tickers:
            raise KeyError(f"unknown ticker {ticker!r}")
        added: list[Post] = []
        with self.lock:
            step = max(1, int(self.post_spacing.total_seconds()))
            for _ in range(n):
                when = self._last_time + timedelta(seconds=self._rng.randint(1, step))
                pid = self._next_id()
                post = self._make_post(ticker, pid, when)
                self.posts[ticker].append(post)
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
            self._arrivals.append(_Arrival(ticker, n, self._list_count + after_requests))
            self._fire_arrivals()

    def inject(self, path: str, kind: str, times: int = 1, **kw: Any) -> None:
        """Answer the next ``times`` requests for exactly ``path`` with a fault of ``kind``.

        kinds: status (code=500|502|503), rate_limit (429, retry_after=1), drop (close the socket,
        no response), slow (sleep seconds=3, then answer), malformed (200, broken body of the
        right content type), empty (200, empty body). Faults on one path queue up in order.
        """
        if kind not in {"status", "rate_limit", "drop", "slow", "malformed", "empty"}:
            raise ValueError(f"unknown fault kind {kind!r}")
        if kind == "status" and int(kw.get("code", 500)) < 400:
            raise ValueError("a status fault needs an error code")
        with self.lock:
            self._faults.append(_Fault(path, kind, times, dict(kw)))

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

    # ---------------------------------------------------------------- data generation

    def _next_id(self) -> int:
        """Advance the global id by a gap of 1..40; remember one skipped id as a 'deleted' post."""
        if self._last_id == 0:
            self._last_id = 300_000_000 + self._rng.randint(0, 999)
            return self._last_id
        gap = self._rng.randint(1, 40)
        if gap > 1:
            self._deleted_ids.append(self._last_id + gap - 1)
        self._last_id += gap
        return self._last_id

    def _generate_posts(self) -> None:
        """posts_per_ticker posts per ticker, interleaved in time; ids follow time globally."""
        spacing = max(1, int(self.post_spacing.total_seconds()))
        jitter_max = min(30, spacing // 3)  # < spacing/3 keeps each ticker's posts in order
        events: list[tuple[datetime, int, str]] = []
        for order, ticker in enumerate(self.tickers):
            for i in range(self.posts_per_ticker):
                when = self.first_post_at + timedelta(seconds=i * spacing + self._rng.randint(0, jitter_max))
                events.append((when, order, ticker))
        events.sort()
        leak_slots: list[tuple[int, datetime]] = []
        for when, _order, ticker in events:
            before = self._last_id
            pid = self._next_id()
            self.posts[ticker].append(self._make_post(ticker, pid, when))
            self._last_time = max(self._last_time, when)
            # A post of another stock fits in the gap; it only shows when the client leaks.
            if before and pid - before >= 3 and self._rng.random() < 0.3:
                leak_slots.append((before + 1, when))
        for pid, when in leak_slots:
            self._leak_posts.append(self._make_post(self._leak_ticker, pid, when, allow_reply=False))

    def _make_post(self, ticker: str, pid: int, when: datetime, allow_reply: bool = True) -> Post:
        rng = self._rng
        name = self.tickers.get(ticker, "카카오")
        when = when.replace(microsecond=0)
        reply_depth, parent_id = 0, None
        roll = rng.random()
        post_type = "normal"
        earlier = [p for p in self.posts.get(ticker, [])[-15:] if p.reply_depth == 0]
        if allow_reply and roll < 0.08 and earlier:
            # A reply to a recent post of the same stock (so it often shares an HTML page).
            parent = rng.choice(earlier)
            reply_depth, parent_id = 1, parent.id
            title = parent.title if rng.random() < 0.5 else self._title(name)
        elif allow_reply and roll < 0.11 and self._deleted_ids:
            reply_depth, parent_id = 1, rng.choice(self._deleted_ids)
            title = DELETED_PARENT_PREFIX + self._title(name, allow_long=False)
        elif roll < 0.14:
            post_type = "itemNewsResearch"
            title = rng.choice(_NEWS).format(name=name)
        else:
            title = self._title(name)
        lines = rng.sample(_BODY_LINES, k=rng.randint(1, 3))
        body_html = "<br>".join(html.escape(line, quote=False) for line in lines)
        body_text = None if rng.random() < 0.15 else "\n".join(lines)
        head = "".join(rng.choice(_NICK_CHARS) for _ in range(rng.choice((2, 4, 4, 4))))
        nickname = head + "*" * (8 - len(head))
        comment_count = 0 if rng.random() < 0.6 else rng.randint(1, 15)
        return Post(
            id=pid,
            ticker=ticker,
            written_at=when,
            title=title,
            body_html=body_html,
            body_text=body_text,
            nickname=nickname,
            profile_id="".join(rng.choice(_NICK_CHARS) for _ in range(12)),
            holder_verified=rng.random() < 0.25,
            reply_depth=reply_depth,
            parent_id=parent_id,
            cleanbot_passed=rng.random() >= 0.10,
            comment_count=comment_count,
            likes=rng.choice((0, 0, 0, 1, 2, 3, 5, 8, 13)),
            dislikes=rng.choice((0, 0, 0, 1, 2, 4)),
            views=None if rng.random() < 0.2 else rng.randint(3, 400),
            post_type=post_type,
        )

    def _title(self, name: str, allow_long: bool = True) -> str:
        rng = self._rng
        roll = rng.random()
        if allow_long and roll < 0.12:
            # Longer than HTML_TITLE_MAX, so the legacy list shows it cut with "...".
            return " ".join(rng.sample(_LONG_PARTS, k=3))
        pool = _BULLISH if roll < 0.40 else _BEARISH if roll < 0.65 else _OFF_TOPIC if roll < 0.80 else (
            _ADS if roll < 0.90 else _SPECIAL
        )
        slug = "".join(rng.choice(_NICK_CHARS) for _ in range(6))
        return rng.choice(pool).format(
            name=name, a=rng.randint(1000, 9999), b=rng.randint(1000, 9999), slug=slug
        )

    def _sessions(self) -> list[date]:
        days: list[date] = []
        d = self.price_start
        while d <= self.price_end:
            if d.weekday() < 5 and d not in KRX_HOLIDAYS:
                days.append(d)
            d += timedelta(days=1)
        return days

    def _generate_prices(self) -> None:
        """Random-walk OHLCV per ticker; the first ticker has a 50:1 split, each one halt day."""
        rng = self._rng
        days = self._sessions()
        for index, ticker in enumerate(self.tickers):
            if len(days) < 3:
                self.prices[ticker] = []
                self.raw_prices[ticker] = []
                self._foreign_rate[ticker] = {}
                continue
            split_idx = len(days) // 2 if index == 0 else None
            # Like 005930 in 2018: the halt comes right before the split takes effect.
            halt_idx = split_idx - 1 if split_idx is not None else rng.randint(1, len(days) - 2)
            anchor = rng.randint(500, 800) * 100
            close = anchor
            base_volume = rng.randint(3_000_000, 20_000_000)
            rate = rng.uniform(20.0, 55.0)
            adjusted: list[PriceRow] = []
            raw: list[PriceRow] = []
            rates: dict[date, float] = {}
            for i, d in enumerate(days):
                rate = min(80.0, max(5.0, rate + rng.gauss(0, 0.08)))
                rates[d] = round(rate, 2)
                if i == halt_idx:
                    row = PriceRow(d, 0, 0, 0, close, 0)
                else:
                    # Mean-revert towards the anchor so prices stay in a realistic band.
                    drift = -0.02 * (close - anchor) / anchor
                    new_close = _round_tick(close * (1 + drift + rng.gauss(0, 0.015)))
                    new_close = min(max(new_close, _round_tick(close * 0.71)), _round_tick(close * 1.29))
                    open_ = _round_tick(close * (1 + rng.gauss(0, 0.006)))
                    # Wicks: _round_tick never returns 0, hence the -100/+100 (a wick may be zero).
                    wick_up = _round_tick(abs(rng.gauss(0, 0.006)) * close) - 100
                    wick_down = _round_tick(abs(rng.gauss(0, 0.006)) * close) - 100
                    high = max(open_, new_close) + wick_up
                    low = max(100, min(open_, new_close) - wick_down)
                    volume = int(base_volume * rng.uniform(0.4, 2.2))
                    if split_idx is not None and i < split_idx:
                        volume = max(SPLIT_RATIO, volume // SPLIT_RATIO * SPLIT_RATIO)  # divisible
                    row = PriceRow(d, open_, high, low, new_close, volume)
                    close = new_close
                adjusted.append(row)
                if split_idx is not None and i < split_idx:
                    raw.append(
                        PriceRow(
                            d,
                            row.open * SPLIT_RATIO,
                            row.high * SPLIT_RATIO,
                            row.low * SPLIT_RATIO,
                            row.close * SPLIT_RATIO,
                            row.volume // SPLIT_RATIO,
                        )
                    )
                else:
                    raw.append(row)
            self.prices[ticker] = adjusted
            self.raw_prices[ticker] = raw
            self._foreign_rate[ticker] = rates
            self.halt_date[ticker] = days[halt_idx]
            if split_idx is not None:
                self.split_date[ticker] = days[split_idx]

    # ---------------------------------------------------------------- request plumbing

    def _handle(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self.lock:
            self.requests_log.append((path, dict(query)))
            fault = self._take_fault(path)
            if fault is not None:
                self.faults_served.append((path, fault.kind))

        if fault is not None:
            if fault.kind == "drop":
                handler.close_connection = True  # nothing written: the client sees EOF
                return
            if fault.kind == "status":
                code = int(fault.kw.get("code", 500))
                self._send(handler, _Response(code, _TEXT_CT, f"{code} error\n".encode()))
                return
            if fault.kind == "rate_limit":
                retry_after = str(int(fault.kw.get("retry_after", 1)))
                self._send(
                    handler,
                    _Response(429, _TEXT_CT, b"Too Many Requests\n", {"Retry-After": retry_after}),
                )
                return
            if fault.kind == "slow":
                time.sleep(float(fault.kw.get("seconds", 3)))

        response = self._route(path, query)
        if fault is not None and fault.kind == "malformed":
            response = _Response(200, response.content_type, self._malformed(response))
        elif fault is not None and fault.kind == "empty":
            response = _Response(200, response.content_type, b"")
        # Count before answering: a client that reads list_requests() right after its response
        # must see its own request counted.
        normal = fault is None or fault.kind == "slow"
        if normal and response.status == 200 and response.list_ticker is not None:
            with self.lock:
                self._list_count += 1
                key = response.list_ticker
                self._list_count_by_ticker[key] = self._list_count_by_ticker.get(key, 0) + 1
                self._fire_arrivals()
        self._send(handler, response)

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.path == path and fault.remaining > 0:
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
    def _send(handler: _Handler, response: _Response) -> None:
        try:
            handler.send_response(response.status)
            handler.send_header("Content-Type", response.content_type)
            handler.send_header("Content-Length", str(len(response.body)))
            for key, value in response.headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # client gave up (e.g. its timeout on a slow fault)

    def _malformed(self, response: _Response) -> bytes:
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

    def _route(self, path: str, q: dict[str, str]) -> _Response:
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
        if path == "/robots.txt":
            return _Response(200, _TEXT_CT, self.robots_txt.encode("utf-8"))
        return _Response(404, _TEXT_CT, b"Not Found\n")

    # ---------------------------------------------------------------- JSON board

    @staticmethod
    def _post_json(p: Post) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(p.id),
            "itemCode": p.ticker,
            "postType": p.post_type,
            "writer": {
                "nickname": p.nickname,
                "profileId": p.profile_id,
                "isHolderVerified": p.holder_verified,
            },
            "writtenAt": p.written_at.strftime("%Y-%m-%dT%H:%M:%S"),
            "title": p.title,
            "contentSwReplaced": p.body_html,
            "contentSwReplacedButImg": p.body_text,
            "replyDepth": p.reply_depth,
            "parentId": None if p.parent_id is None else str(p.parent_id),
            "isCleanbotPassed": p.cleanbot_passed,
            "commentCount": p.comment_count,
            "recommendCount": p.likes,
            "notRecommendCount": p.dislikes,
        }
        if p.views is not None:
            out["viewCount"] = p.views
        return out

    @staticmethod
    def _json_error(message: str) -> _Response:
        body = {"isSuccess": False, "detailCode": "INVALID_PARAMETER", "message": message, "result": None}
        return _Response(400, _JSON_CT, json.dumps(body, ensure_ascii=False).encode("utf-8"))

    def _discussion_json(self, q: dict[str, str]) -> _Response:
        code = q.get("itemCode", "")
        leak = any(not q.get(name) for name in JSON_REQUIRED_PARAMS)
        size_raw = q.get("pageSize") or "20"
        try:
            size = int(size_raw)
        except ValueError:
            return self._json_error(f"pageSize={size_raw!r}")
        if size < 1:
            return self._json_error(f"pageSize={size_raw!r}")
        size = min(size, self.page_size_cap)
        offset = q.get("offset") or None
        before: int | None = None
        if offset is not None:
            before = _decode_cursor(offset)
            if before is None:
                return self._json_error(f"offset={offset!r}")

        with self.lock:
            if leak:
                # The real endpoint, missing a parameter, mixes in posts of other stocks.
                pool = [p for ps in self.posts.values() for p in ps] + self._leak_posts
            elif code in self.posts:
                pool = list(self.posts[code])
            else:
                pool = None
        if pool is None:
            result: dict[str, Any] = {"posts": [], "lastOffset": None}
        else:
            if q.get("isHolderOnly") == "true":
                pool = [p for p in pool if p.holder_verified]
            if q.get("excludesItemNews") == "true":
                pool = [p for p in pool if p.post_type != "itemNewsResearch"]
            if q.get("isItemNewsOnly") == "true":
                pool = [p for p in pool if p.post_type == "itemNewsResearch"]
            # Cursor = position by id, so posts that arrive mid-walk never shift older pages.
            older = sorted((p for p in pool if before is None or p.id < before), key=lambda p: -p.id)
            page = older[:size]
            result = {"posts": [self._post_json(p) for p in page]}
            if page:
                result["lastOffset"] = _encode_cursor(page[-1].id, code)
            elif self.json_end_style == "repeat":
                result["lastOffset"] = offset
            elif self.json_end_style == "null":
                result["lastOffset"] = None
            # "omit": no lastOffset key at all
        body = json.dumps({"isSuccess": True, "result": result}, ensure_ascii=False).encode("utf-8")
        return _Response(200, _JSON_CT, body, list_ticker=code)

    # ---------------------------------------------------------------- legacy HTML helpers

    @staticmethod
    def _page_number(q: dict[str, str]) -> int:
        try:
            return max(1, int(q.get("page") or "1"))
        except ValueError:
            return 1

    @staticmethod
    def _nnavi(link_path: str, code: str, page: int, last: int) -> str:
        """The real pager: 10 links a block, pgLL/pgL/pgR, and pgRR (맨뒤) -> the last page."""

        def href(n: int) -> str:
            return f"{link_path}?code={code}&amp;page={n}"

        block_start = (page - 1) // 10 * 10 + 1
        block_end = min(block_start + 9, last)
        out = [
            "<!--- 페이지 네비게이션 시작--->",
            '<table summary="페이지 네비게이션 리스트" class="Nnavi" align="center">',
            "<caption>페이지 네비게이션</caption>",
            "<tr>",
        ]
        if block_start > 1:
            out.append(f'<td class="pgLL">\n<a href="{href(1)}"  >\n맨앞\n</a>\n</td>')
            out.append(f'<td class="pgL">\n<a href="{href(block_start - 1)}"  >\n이전\n</a>\n</td>')
        for n in range(block_start, block_end + 1):
            cls = ' class="on"' if n == page else ""
            out.append(f'<td{cls}>\n<a href="{href(n)}"  >{n}</a>\n</td>')
        if block_end < last:
            out.append(f'<td class="pgR">\n<a href="{href(block_end + 1)}"  >\n다음\n</a>\n</td>')
        if last > 1:
            out.append(f'<td class="pgRR">\n<a href="{href(last)}"  >맨뒤\n</a>\n</td>')
        out += ["</tr>", "</table>", "<!--- 페이지 네비게이션 끝--->"]
        return "\n".join(out)

    @staticmethod
    def _html_page(title: str, inner: str) -> bytes:
        page = (
            '<html lang="ko">\n<head>\n'
            '<meta http-equiv="Content-Type" content="text/html; charset=euc-kr">\n'
            f"<title>{title}</title>\n</head>\n<body>\n"
            '<script language="JavaScript">\n'
            'function mouseOver(obj){\n  obj.style.backgroundColor="#f6f4e5";\n}\n'
            'function mouseOut(obj){\n  obj.style.backgroundColor="#ffffff";\n}\n</script>\n'
            f"{inner}\n</body>\n</html>\n"
        )
        # EUC-KR has no emoji: like the real site, they go out as numeric character references.
        return page.encode("cp949", errors="xmlcharrefreplace")

    # ---------------------------------------------------------------- legacy HTML board

    def _board_html(self, path: str, q: dict[str, str]) -> _Response:
        code = q.get("code", "")
        suffix = path.rsplit(".", 1)[1]  # links follow the flavour asked for: naver | nhn
        with self.lock:
            newest_first = sorted(self.posts.get(code, []), key=lambda p: -p.id)
        last = max(1, -(-len(newest_first) // BOARD_PAGE_SIZE))
        page = min(self._page_number(q), last)  # past the end: the last page again, as the real one
        chunk = newest_first[(page - 1) * BOARD_PAGE_SIZE : page * BOARD_PAGE_SIZE]

        # Replies sit directly under their parent when it is on the same page.
        on_page = {p.id for p in chunk}
        children: dict[int, list[Post]] = {}
        for p in chunk:
            if p.parent_id in on_page:
                children.setdefault(p.parent_id, []).append(p)
        ordered: list[Post] = []
        for p in chunk:
            if p.parent_id in on_page:
                continue
            ordered.append(p)
            ordered.extend(sorted(children.get(p.id, []), key=lambda c: c.id))

        blank = '<tr>\n<td colspan="6" height="8"></td>\n</tr>'
        rows = [
            "<tr>\n<th>날짜</th>\n<th>제목</th>\n<th>글쓴이</th>\n<th>조회</th>\n<th>공감</th>\n<th>비공감</th>\n</tr>",
            blank,
        ]
        for i, p in enumerate(ordered, start=1):
            rows.append(self._board_row(p, code, page, suffix))
            if i % 5 == 0:
                rows.append(blank)
        name = html.escape(self.tickers.get(code, ""))
        inner = (
            '<div id="wrap">\n<div id="content">\n<div class="section inner_sub">\n'
            '<h4 class="h_sub sub_tit7"><em>종목토론실</em></h4>\n'
            '<table class="type2" cellspacing="0" summary="종목토론 게시판 리스트">\n'
            "<caption>종목토론 게시판</caption>\n"
            + "\n".join(rows)
            + "\n</table>\n"
            + self._nnavi(f"/item/board.{suffix}", code, page, last)
            + "\n</div>\n</div>\n</div>"
        )
        body = self._html_page(f"{name} : 네이버 금융", inner)
        return _Response(200, _HTML_CT, body, list_ticker=code)

    @staticmethod
    def _board_row(p: Post, code: str, page: int, suffix: str) -> str:
        comments = f'\n<span class="tah p9">[<b>{p.comment_count}</b>]</span>' if p.comment_count > 0 else ""
        if p.cleanbot_passed:
            text = p.title if len(p.title) <= HTML_TITLE_MAX else p.title[:HTML_TITLE_MAX] + "..."
            href = f"/item/board_read.{suffix}?code={code}&amp;nid={p.id}&amp;st=&amp;sw=&amp;page={page}"
            title_cell = f'<a href="{href}" title="{html.escape(p.title)}">{html.escape(text)}</a>{comments}'
        else:
            title_cell = f"{CLEANBOT_HIDDEN_TEXT}{comments}"  # no link, so no id to key it by
        return (
            '<tr onMouseOver="mouseOver(this)" onMouseOut="mouseOut(this)">\n'
            f'<td><span class="tah p10 gray03">{p.written_at:%Y.%m.%d %H:%M}</span></td>\n'
            f'<td class="title">\n{title_cell}\n</td>\n'
            f'<td class="p11">{html.escape(p.nickname)}</td>\n'
            f'<td><span class="tah p10 gray03">{p.views or 0}</span></td>\n'
            f'<td><strong class="tah p10 red01">{p.likes}</strong></td>\n'
            f'<td><strong class="tah p10 blue01">{p.dislikes}</strong></td>\n'
            "</tr>"
        )

    # ---------------------------------------------------------------- prices

    def _fchart(self, q: dict[str, str]) -> _Response:
        code = q.get("symbol", "")
        try:
            count = int(q.get("count") or "0")
        except ValueError:
            return _Response(400, _TEXT_CT, b"bad count\n")
        with self.lock:
            rows = list(self.prices.get(code, []))
        name = self.tickers.get(code, "")
        if q.get("timeframe", "day") != "day" or count <= 0:
            rows = []
        rows = rows[-count:] if rows else []
        items = "".join(
            f'\t\t<item data="{r.trade_date:%Y%m%d}|{r.open}|{r.high}|{r.low}|{r.close}|{r.volume}" />\n'
            for r in rows
        )
        xml = (
            '<?xml version="1.0" encoding="EUC-KR" ?>\n<protocol>\n'
            f'\t<chartdata symbol="{html.escape(code)}" name="{html.escape(name)}" count="{len(rows)}" '
            'timeframe="day" precision="0" origintime="19900103">\n'
            f"{items}\t</chartdata>\n</protocol>\n"
        )
        return _Response(200, _XML_CT, xml.encode("cp949", errors="xmlcharrefreplace"))

    def _sise_json(self, q: dict[str, str]) -> _Response:
        code = q.get("symbol", "")
        try:
            start = datetime.strptime(q.get("startTime", ""), "%Y%m%d").date()
            end = datetime.strptime(q.get("endTime", ""), "%Y%m%d").date()
        except ValueError:
            return _Response(400, _TEXT_CT, b"bad startTime/endTime\n")
        with self.lock:
            rows = [r for r in self.prices.get(code, []) if start <= r.trade_date <= end]
            rates = self._foreign_rate.get(code, {})
        lines = ["[['날짜', '시가', '고가', '저가', '종가', '거래량', '외국인소진율'],"]
        for r in rows:
            rate = rates.get(r.trade_date, 0.0)
            lines.append(
                f'["{r.trade_date:%Y%m%d}", {r.open}, {r.high}, {r.low}, {r.close}, {r.volume}, {rate}],'
            )
        # The real answer is a JS literal with blank-ish lines between rows; no trailing comma
        # here so both ast.literal_eval and a quote-swapping json.loads work.
        text = "\n" + "\n\t\t\n".join(lines).rstrip(",") + "\n]\n"
        return _Response(200, _JS_CT, text.encode("utf-8"))

    def _sise_day_html(self, path: str, q: dict[str, str]) -> _Response:
        code = q.get("code", "")
        suffix = path.rsplit(".", 1)[1]
        with self.lock:
            raw = list(self.raw_prices.get(code, []))
            adjusted = list(self.prices.get(code, []))
        # 전일비 against the previous close on today's share basis (so a split day is not -98%).
        changes: dict[date, int] = {}
        for i, (r, a) in enumerate(zip(raw, adjusted)):
            if i == 0:
                changes[r.trade_date] = 0
                continue
            factor = r.close // a.close if a.close else 1
            changes[r.trade_date] = r.close - adjusted[i - 1].close * factor
        newest_first = raw[::-1]
        last = max(1, -(-len(newest_first) // SISE_DAY_PAGE_SIZE))
        page = min(self._page_number(q), last)
        chunk = newest_first[(page - 1) * SISE_DAY_PAGE_SIZE : page * SISE_DAY_PAGE_SIZE]

        blank = '<tr>\n<td colspan="7" height="8"></td>\n</tr>'
        rule = '<tr>\n<td colspan="7" height="1" bgcolor="#e1e1e1"></td>\n</tr>'
        header = "".join(f"<th>{h}</th>\n" for h in ("날짜", "종가", "전일비", "시가", "고가", "저가", "거래량"))
        rows = [f"<tr>\n{header}</tr>", blank]
        for i, r in enumerate(chunk, start=1):
            rows.append(self._sise_row(r, changes[r.trade_date]))
            if i == 5 and len(chunk) > 5:
                rows += [blank, rule, blank]
        rows.append(blank)
        inner = (
            '<h4 class="tlline2"><strong><span class="red03">일별</span>시세</strong></h4>\n'
            '<table cellspacing="0" class="type2">\n'
            + "\n".join(rows)
            + "\n</table>\n"
            + self._nnavi(f"/item/sise_day.{suffix}", code, page, last)
        )
        return _Response(200, _HTML_CT, self._html_page("네이버 금융", inner))

    @staticmethod
    def _sise_row(r: PriceRow, change: int) -> str:
        def num(n: int) -> str:
            return f'<td class="num"><span class="tah p11">{_fmt_int(n)}</span></td>'

        prev = r.close - change
        if change == 0:
            change_cell = f'<td class="num">\n<span class="tah p11">\n{_fmt_int(0)}\n</span>\n</td>'
        else:
            up = change > 0
            color = "red02" if up else "nv01"
            if r.trade_date.year < 2025:
                # Older markup: an arrow image whose alt carries the sign.
                icon = "ico_up.gif" if up else "ico_down.gif"
                marker = (
                    f'<img src="https://ssl.pstatic.net/imgstock/images/images4/{icon}" width="7" '
                    f'height="6" style="margin-right:4px;" alt="{"상승" if up else "하락"}">'
                )
            else:
                # Newer markup: em.bu_p with a class per sign, the word in span.blind.
                limit = prev > 0 and abs(change) / prev >= 0.295
                cls = ("bu_pup" if up else "bu_pdn") + ("2" if limit else "")
                word = ("상한가" if up else "하한가") if limit else ("상승" if up else "하락")
                marker = f'<em class="bu_p {cls}"><span class="blind">{word}</span></em>'
            amount = _fmt_int(abs(change))
            span = f'<span class="tah p11 {color}">\n{amount}\n</span>'
            change_cell = f'<td class="num">\n{marker}{span}\n</td>'
        return (
            '<tr onMouseOver="mouseOver(this)" onMouseOut="mouseOut(this)">\n'
            f'<td align="center"><span class="tah p10 gray03">{r.trade_date:%Y.%m.%d}</span></td>\n'
            f"{num(r.close)}\n{change_cell}\n{num(r.open)}\n{num(r.high)}\n{num(r.low)}\n{num(r.volume)}\n"
            "</tr>"
        )


def main() -> None:
    """Serve a loopback Naver until interrupted (``make demo`` uses it): posts over the last days."""
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(description="loopback Naver for demos and tests")
    parser.add_argument("--tickers", default="005930,000660")
    parser.add_argument("--posts-per-ticker", type=int, default=400)
    parser.add_argument("--days", type=int, default=120, help="posts spread over this many days up to now")
    parser.add_argument("--url-file", help="write the base URL here once serving")
    args = parser.parse_args()
    names = {"005930": "삼성전자", "000660": "SK하이닉스"}
    codes = [c for c in args.tickers.split(",") if c]
    now = datetime.now().replace(microsecond=0)
    fake = FakeNaver(tickers={c: names.get(c, c) for c in codes}, posts_per_ticker=args.posts_per_ticker,
                     first_post_at=now - timedelta(days=args.days),
                     post_spacing=timedelta(days=args.days) / args.posts_per_ticker,
                     price_start=(now - timedelta(days=args.days + 60)).date(), price_end=now.date())
    fake.start()
    if args.url_file:
        with open(args.url_file, "w", encoding="utf-8") as handle:
            handle.write(fake.base_url)
    sys.stdout.write(f"loopback Naver at {fake.base_url}\n")
    sys.stdout.flush()
    signal.sigwait({signal.SIGINT, signal.SIGTERM})
    fake.stop()


if __name__ == "__main__":
    main()
