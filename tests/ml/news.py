"""Synthetic news headlines on the prices of a synthetic board (``tests.ml.board.make_board``):
headlines published the evening before a session lean toward its move (a planted signal), or do not.
Every story's first headline is carried by a second office too (one story, two articles)."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta

from finsent.data.labels import STANDARD_DEFINITIONS, LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.ingest.records import KST, NewsRow
from tests.data.board import add_news, query

GOOD = ["수주", "흑자전환", "신고가", "목표가상향", "호실적", "증설", "신제품"]
BAD = ["적자", "목표가하향", "리콜", "소송", "실적부진", "감산", "유상증자"]
PLAIN = ["발표", "공시", "분기", "외국인", "기관", "업계", "전망", "시장", "투자자", "올해", "계획", "관계자"]


def make_news(engine, *, planted: bool, seed: int = 7, per_session: int = 4, skip_sessions: int = 0,
              accuracy: float = 0.85) -> int:
    """Headlines for every stock that has prices, on its sessions after the first ``skip_sessions``:
    each carries a good word with probability ``accuracy`` when the session's open-to-close move will
    be up (planted) or independently of it. Labels both sources and runs the quality rules (so the
    second office's copy of a story is flagged). Returns the number of articles stored."""
    rng = random.Random(seed)
    prices = query(engine, "SELECT ticker, trade_date, open::float8, close::float8 FROM prices ORDER BY 1, 2")
    articles, rows = itertools.count(1), []
    for ticker, bars in itertools.groupby(prices, key=lambda r: r[0]):
        sessions = list(bars)
        for (_, previous, _, _), (_, _, opened, closed) in itertools.pairwise(sessions[skip_sessions:]):
            up = closed > opened
            for k in range(per_session):
                lean = up if planted else rng.random() < 0.5
                good = lean if rng.random() < accuracy else not lean
                words = [*rng.sample(PLAIN, 3), rng.choice(GOOD if good else BAD)]
                rng.shuffle(words)
                title = f"{' '.join(words)} {k}"
                when = datetime.combine(previous, datetime.min.time()).replace(tzinfo=KST) + timedelta(
                    hours=17, minutes=k * 11)
                number = f"{next(articles):010d}"
                rows.append(NewsRow(ticker, "015", number, when, title, None, "한국경제", f"015/{number}", "test"))
                if k == 0:  # the same story from a second office, a few minutes later
                    rows.append(NewsRow(ticker, "009", number, when + timedelta(minutes=4), title, None, "매일경제",
                                        f"015/{number}", "test"))
    add_news(engine, rows)
    for rule in STANDARD_DEFINITIONS:
        label_posts(engine, LabelDefinition.build(rule))
    check_quality(engine)
    return len(rows)
