"""Synthetic, seeded board posts and daily prices (with a halt, a split, holidays) for the fake."""

from __future__ import annotations

import bisect
import dataclasses
import html
import random
from datetime import date, datetime, time, timedelta

from finsent.loopback.content import (
    ADS,
    BEARISH,
    BODY_LINES,
    BULLISH,
    DELETED_PARENT_PREFIX,
    KRX_HOLIDAYS,
    LONG_PARTS,
    NEWS,
    NICK_CHARS,
    OFF_TOPIC,
    SPECIAL,
    SPLIT_RATIO,
    Post,
    PriceRow,
    round_tick,
)

# The demo's planted signal: titles that say which way the next session will close. Phrase, filler
# and a number make titles nearly unique (duplicate titles are quality-flagged and kept out).
_SIGNAL_UP = ("반등 나온다", "매수 들어갑니다", "호재 떴네요", "상승 추세 확인", "가즈아 간다", "바닥 찍었다",
              "외인 매수 유입", "실적 서프 기대")
_SIGNAL_DOWN = ("손절합니다", "하락 시작이네", "악재 터졌다", "매도 타이밍", "떡락 각이다", "고점 찍었다",
                "외인 매도 폭탄", "실적 쇼크 우려")
_SIGNAL_FILLER = ("오늘", "내일", "형님들", "진짜", "역시", "이번엔", "장 마감 후", "아침부터", "점심에", "결국")


class BoardGenerator:
    """Mixin of FakeNaver: makes its posts and prices."""

    def plant_signal(self, share: float, accuracy: float = 0.85) -> int:
        """Re-title a ``share`` of the top-level posts so they say which way their next session
        moves from its open to its close (the session that opens at 09:00 after the post: the
        tradable move of ``next_open_close``), right with probability ``accuracy``. Returns how
        many posts carry the signal. The demo board uses it so that a model has something real to
        find."""
        rng = self._rng
        planted = 0
        for ticker, posts in self.posts.items():
            sessions = [row for row in self.prices.get(ticker, []) if row.volume > 0]
            opens = [datetime.combine(row.trade_date, time(9, 0)) for row in sessions]
            name = self.tickers.get(ticker, ticker)
            for index, post in enumerate(posts):
                if post.reply_depth or post.post_type != "normal" or rng.random() >= share:
                    continue
                k = bisect.bisect_right(opens, post.written_at)  # first session opening after the post
                if k >= len(sessions) or sessions[k].close == sessions[k].open:
                    continue
                up = (sessions[k].close > sessions[k].open) == (rng.random() < accuracy)
                title = (f"{rng.choice(_SIGNAL_FILLER)} {name} {rng.choice(_SIGNAL_UP if up else _SIGNAL_DOWN)} "
                         f"{rng.randint(1, 999)}")
                posts[index] = dataclasses.replace(post, title=title)
                planted += 1
        return planted

    def advance_session(self, day: date, posts_per_ticker: int, stories_per_ticker: int) -> None:
        """The world one session on (a soak's simulated day): a bar for ``day`` after each ticker's last,
        ``posts_per_ticker`` posts written between the last post and ``day``'s 15:00 (ids and times
        increasing across tickers, as on the real board; comments too) and ``stories_per_ticker`` news
        stories over ``day``'s hours."""
        rng = self._rng
        with self.lock:
            for ticker in self.tickers:
                rows = self.prices[ticker]
                if rows and rows[-1].trade_date >= day:
                    raise ValueError(f"{ticker} already has a session on or after {day}")
                close = next((r.close for r in reversed(rows) if r.volume > 0), 70_000)
                row = _next_bar(rng, day, close, close, 8_000_000, divisible=False)
                rows.append(row)
                self.raw_prices[ticker].append(row)
            end = datetime.combine(day, time(15, 0))
            span = max(60, int((end - self._last_time).total_seconds()))
            times = sorted((self._last_time + timedelta(seconds=rng.randint(1, span)), t)
                           for t in self.tickers for _ in range(posts_per_ticker))
            for when, ticker in times:
                post = self._make_post(ticker, self._next_id(), when)
                self.posts[ticker].append(post)
                if post.comment_count:
                    self._make_comments(post, post.comment_count)
                self._last_time = when
            for k in range(stories_per_ticker):
                when = datetime.combine(day, time(8, 0)) + timedelta(minutes=(k + 1) * 420 // (stories_per_ticker + 1))
                self.add_story(when)

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
            title = rng.choice(NEWS).format(name=name)
        else:
            title = self._title(name)
        lines = rng.sample(BODY_LINES, k=rng.randint(1, 3))
        body_html = "<br>".join(html.escape(line, quote=False) for line in lines)
        body_text = None if rng.random() < 0.15 else "\n".join(lines)
        head = "".join(rng.choice(NICK_CHARS) for _ in range(rng.choice((2, 4, 4, 4))))
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
            profile_id="".join(rng.choice(NICK_CHARS) for _ in range(12)),
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
            return " ".join(rng.sample(LONG_PARTS, k=3))
        pool = BULLISH if roll < 0.40 else BEARISH if roll < 0.65 else OFF_TOPIC if roll < 0.80 else (
            ADS if roll < 0.90 else SPECIAL
        )
        slug = "".join(rng.choice(NICK_CHARS) for _ in range(6))
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
                before_split = split_idx is not None and i < split_idx
                if i == halt_idx:
                    row = PriceRow(d, 0, 0, 0, close, 0)
                else:
                    row = _next_bar(rng, d, close, anchor, base_volume, divisible=before_split)
                    close = row.close
                adjusted.append(row)
                raw.append(unadjusted(row) if before_split else row)
            self.prices[ticker] = adjusted
            self.raw_prices[ticker] = raw
            self._foreign_rate[ticker] = rates
            self.halt_date[ticker] = days[halt_idx]
            if split_idx is not None:
                self.split_date[ticker] = days[split_idx]


def _next_bar(rng: random.Random, d: date, close: int, anchor: int, base_volume: int, *, divisible: bool) -> PriceRow:
    """The session after one that closed at ``close``: a mean-reverting random step with wicks."""
    # Mean-revert towards the anchor so prices stay in a realistic band.
    drift = -0.02 * (close - anchor) / anchor
    new_close = round_tick(close * (1 + drift + rng.gauss(0, 0.015)))
    new_close = min(max(new_close, round_tick(close * 0.71)), round_tick(close * 1.29))
    open_ = round_tick(close * (1 + rng.gauss(0, 0.006)))
    # Wicks: round_tick never returns 0, hence the -100/+100 (a wick may be zero).
    wick_up = round_tick(abs(rng.gauss(0, 0.006)) * close) - 100
    wick_down = round_tick(abs(rng.gauss(0, 0.006)) * close) - 100
    high = max(open_, new_close) + wick_up
    low = max(100, min(open_, new_close) - wick_down)
    volume = int(base_volume * rng.uniform(0.4, 2.2))
    if divisible:  # before a split: the raw volume is volume / SPLIT_RATIO exactly
        volume = max(SPLIT_RATIO, volume // SPLIT_RATIO * SPLIT_RATIO)
    return PriceRow(d, open_, high, low, new_close, volume)


def unadjusted(row: PriceRow) -> PriceRow:
    """A bar before the split as it traded (prices x SPLIT_RATIO, volume / SPLIT_RATIO)."""
    return PriceRow(row.trade_date, row.open * SPLIT_RATIO, row.high * SPLIT_RATIO, row.low * SPLIT_RATIO,
                    row.close * SPLIT_RATIO, row.volume // SPLIT_RATIO)
