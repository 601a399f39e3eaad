"""A synthetic board whose titles lean toward the coming move (a planted signal), or do not."""

from __future__ import annotations

import itertools
import random
from datetime import date, datetime, timedelta

from finsent.data.build import DatasetSpec
from finsent.data.labels import STANDARD_DEFINITIONS, LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.ingest.records import KST
from tests.data.board import add_posts, add_prices, post

BULL = ["가즈아", "떡상", "매수", "반등", "폭등", "상한가", "호재"]
BEAR = ["손절", "떡락", "매도", "폭락", "하락", "하한가", "악재"]
ANSWERS = {True: "오늘 올랐네요 축하", False: "오늘 빠졌네요 ㅠㅠ"}  # written after the close: the answer
NEUTRAL = ["오늘", "삼성", "종목", "점심", "내일", "주식", "사람들", "진짜", "이번", "그냥", "역시", "형님들"]


def make_board(engine, *, planted: bool, seed: int = 1, sessions: int = 70, per_session: int = 16,
               tickers=("005930", "000660"), view_in: str = "title") -> None:
    """Each session's move is a coin flip; posts written the evening before carry a bullish word
    with probability 0.85 when the move will be up (planted) or independently of it (not planted).
    ``view_in="body"``: the word sits in the body, under a title of neutral words only (a board
    whose question is in the title and whose view is in the body); ``view_in="comments"``: in a
    comment written an hour after the post (before the session opens) under a neutral title and
    body, and a comment written after the session's close tells what happened (no model may read it)."""
    rng = random.Random(seed)
    days, day = [], date(2024, 1, 2)
    while len(days) < sessions:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    rows, comments = [], []
    ids = iter(range(1, 10**7))  # fixed ids: results must not depend on which tests ran before
    for ticker in tickers:
        price, closes = 10_000.0, {}
        for d in days:
            price *= 1 + rng.choice([-0.02, 0.02])
            closes[d] = round(price)
        # each session opens at the previous close, so the open-to-close move is the session's move
        add_prices(engine, ticker, closes, opens=dict(zip(days[1:], (closes[d] for d in days[:-1]))))
        for previous, current in itertools.pairwise(days):
            up = closes[current] > closes[previous]
            for k in range(per_session):
                lean = up if planted else rng.random() < 0.5
                bullish = lean if rng.random() < 0.85 else not lean
                words = [*rng.sample(NEUTRAL, 3), rng.choice(BULL if bullish else BEAR)]
                rng.shuffle(words)
                written = datetime.combine(previous, datetime.min.time()) + timedelta(hours=16, minutes=k * 7)
                if view_in == "comments":
                    rows.append(post(ticker, written, f"{' '.join(rng.sample(NEUTRAL, 3))} 어떻게 보세요 {k}",
                                     body="의견 부탁드립니다", post_id=next(ids)))
                    after = datetime.combine(current, datetime.min.time()) + timedelta(hours=16)
                    comments += [(ticker, rows[-1].post_id, 1, written + timedelta(hours=1), f"저는 {' '.join(words)}"),
                                 (ticker, rows[-1].post_id, 2, after, f"{ANSWERS[up]} {k}")]
                elif view_in == "body":
                    title = f"{' '.join(rng.sample(NEUTRAL, 3))} 어떻게 보세요 {k}"
                    body = f"<p>저는 {' '.join(words)}</p><br>[이미지] https://m.site.com/x ㅋㅋㅋㅋㅋㅋ"
                    rows.append(post(ticker, written, title, body=body, post_id=next(ids)))
                else:
                    rows.append(post(ticker, written, f"{' '.join(words)} {k}", post_id=next(ids)))
    add_posts(engine, rows)
    add_comments(engine, comments)
    for rule in STANDARD_DEFINITIONS:
        label_posts(engine, LabelDefinition.build(rule))
    check_quality(engine)


def add_comments(engine, rows: list[tuple[str, int, int, datetime, str]]) -> None:
    """Comments (ticker, post id, number, written at KST, text) as the comment crawl stores them."""
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        cur.executemany("INSERT INTO comments (ticker, post_id, comment_no, written_at, text, source) "
                        "VALUES (%s, %s, %s, %s, %s, 'test')",
                        [(t, p, n, w.replace(tzinfo=KST), x) for t, p, n, w, x in rows])
    raw.commit()
    raw.close()


# A test part of 20% of the board's 69 label sessions is 14 dates: enough for a verdict
# (finsent.ml.stats.MIN_SESSIONS_FOR_VERDICT); the default 10% would be 7, too few for any.
VERDICT_SPEC = DatasetSpec(test_frac=0.2)
