"""Planted worlds for factor studies (``finsent study``): where a signal lives, known in advance.

- ``plant_drift``: a board that foresees a drift *after* the next session. Before each session k
  of each stock a direction D (+1/-1, a coin) is drawn; the stock then drifts ``size`` in that
  direction over sessions k+1 .. k+horizon-1 (not session k's own move), and, with ``revert``, gives
  it back over the next 2 x (horizon - 1) sessions (price pressure, as the literature finds it), so
  the move from k's open to the close ``horizon`` sessions later carries D and neither the next
  session nor 20 sessions do. A ``share`` of the posts written for session k say D (right with
  probability ``accuracy``).
- ``plant_crowd``: a crowd that gathers before big moves, with no direction. A ``share`` of the
  sessions move ``scale`` times as much from open to close (up or down, a coin); the posts of the
  24 h before their open are all kept, elsewhere only ``quiet`` of the top-level posts (the others
  are deleted, as a board deletes posts), so the post count before a session says how big, never
  which way, its move will be.

Both rewrite the stored bars from the intraday moves (overnight gaps and wicks kept, the split and
the halt too), so every price endpoint serves the planted world.
"""

from __future__ import annotations

import bisect
import dataclasses
from datetime import datetime, time, timedelta

from finsent.loopback.content import PriceRow, round_tick

_DRIFT_UP = ("다음주 오른다", "곧 시세 분출", "며칠 내 반등", "이번주 상승 각", "슬슬 올라간다")
_DRIFT_DOWN = ("다음주 빠진다", "곧 하락 시작", "며칠 내 조정", "이번주 하락 각", "슬슬 내려간다")


class PlantedWorlds:
    """Mixin of FakeNaver: worlds whose signal sits at a known horizon or target."""

    planted_directions: dict  # per ticker, per session date: the drift foreseen before its open (+1 / -1)

    def _traded(self, ticker: str) -> list[PriceRow]:
        return [row for row in self.prices.get(ticker, []) if row.volume > 0]

    def _rebuild(self, ticker: str, intraday: dict, scale: dict | None = None) -> None:
        """The ticker's bars again with ``intraday[date]`` added to (and ``scale[date]`` times) each
        session's open-to-close return; gaps, wicks, volumes, the halt and the split kept."""
        from finsent.loopback.generate import unadjusted

        old, new, close, previous_close = self.prices[ticker], [], None, None
        for row in old:
            if row.volume == 0:  # a halt: no trades, the last close carried
                new.append(PriceRow(row.trade_date, 0, 0, 0, close or row.close, 0))
                continue
            gap = row.open / previous_close if previous_close else 1.0
            move = (row.close / row.open - 1) * (scale or {}).get(row.trade_date, 1.0) + intraday.get(row.trade_date, 0)
            open_ = round_tick(close * gap) if close else row.open
            close_new = round_tick(open_ * max(0.75, 1 + move))
            high = max(open_, close_new) + (row.high - max(row.open, row.close))
            low = max(100, min(open_, close_new) - (min(row.open, row.close) - row.low))
            new.append(PriceRow(row.trade_date, open_, high, low, close_new, row.volume))
            previous_close, close = row.close, close_new
        self.prices[ticker] = new
        split = self.split_date.get(ticker)
        self.raw_prices[ticker] = [unadjusted(r) if split and r.trade_date < split else r for r in new]

    def _posts_for(self, ticker: str) -> list[tuple[int, int]]:
        """(index of the post, index of its session among the traded ones) for every top-level post:
        its session is the first that opens (09:00) after it."""
        sessions = self._traded(ticker)
        opens = [datetime.combine(row.trade_date, time(9, 0)) for row in sessions]
        found = []
        for index, post in enumerate(self.posts[ticker]):
            k = bisect.bisect_right(opens, post.written_at)
            if k < len(sessions) and not post.reply_depth and post.post_type == "normal":
                found.append((index, k))
        return found

    def plant_drift(self, share: float = 0.9, accuracy: float = 0.95, horizon: int = 5, size: float = 0.05,
                    revert: bool = True) -> int:
        """See the module: returns how many posts carry the drift's direction."""
        rng, planted = self._rng, 0
        self.planted_directions = {}
        for ticker in self.tickers:
            sessions = self._traded(ticker)
            directions = [rng.choice((1, -1)) for _ in sessions]
            self.planted_directions[ticker] = {row.trade_date: d for row, d in zip(sessions, directions)}
            intraday: dict = {}
            for k, direction in enumerate(directions):
                legs = [(k + j, size / (horizon - 1)) for j in range(1, horizon)]
                if revert:
                    legs += [(k + horizon - 1 + j, -size / (2 * (horizon - 1))) for j in range(1, 2 * horizon - 1)]
                for j, amount in legs:
                    if j < len(sessions):
                        day = sessions[j].trade_date
                        intraday[day] = intraday.get(day, 0.0) + direction * amount
            self._rebuild(ticker, intraday)
            name = self.tickers[ticker]
            for index, k in self._posts_for(ticker):
                if rng.random() >= share:
                    continue
                up = (directions[k] > 0) == (rng.random() < accuracy)
                title = f"{name} {rng.choice(_DRIFT_UP if up else _DRIFT_DOWN)} {rng.randint(1, 9999)}"
                self.posts[ticker][index] = dataclasses.replace(self.posts[ticker][index], title=title)
                planted += 1
        return planted

    def plant_crowd(self, share: float = 0.15, scale: float = 4.0, quiet: float = 0.3) -> int:
        """See the module: returns how many sessions have a crowd (and a big move) before them."""
        rng, crowds = self._rng, 0
        for ticker in self.tickers:
            sessions = self._traded(ticker)
            big = {row.trade_date for row in sessions[1:] if rng.random() < share}
            self._rebuild(ticker, {}, dict.fromkeys(big, scale))
            windows = [(datetime.combine(day, time(9, 0)) - timedelta(hours=24), datetime.combine(day, time(9, 0)))
                       for day in sorted(big)]
            starts = [start for start, _ in windows]
            parents = {p.parent_id for p in self.posts[ticker] if p.reply_depth}
            kept = []
            for post in self.posts[ticker]:
                w = bisect.bisect_right(starts, post.written_at) - 1
                crowded = w >= 0 and post.written_at < windows[w][1]
                if crowded or post.reply_depth or post.id in parents or rng.random() < quiet:
                    kept.append(post)
            self.posts[ticker] = kept
            crowds += len(big)
        return crowds
