"""Comments on a synthetic board's sessions whose text leans toward the coming move (a planted signal),
plus the junk the comment rules must flag: an ad, a deleted comment, a bare ㅋㅋ, a copy-paste flood."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta

from finsent.data.labels import LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.ingest.records import KST
from tests.data.board import query
from tests.ml.board import BEAR, BULL, NEUTRAL

SPAM = "수익 보장 리딩방 카톡 문의 주세요 010-1234-5678"
COPIED = "이 종목 내일 무조건 오른다 다들 존버하세요"
# (the rule it must meet, its text, deleted); the copy comes a minute after its original
JUNK = (("comment_spam", SPAM, False), ("comment_empty", "ㅋㅋㅋㅋ", False), ("comment_empty", "", True),
        (None, COPIED, False), ("comment_duplicate", COPIED + "!!", False))
_INSERT = ("INSERT INTO comments (ticker, post_id, comment_no, written_at, text, deleted, source) "
           "VALUES (%s, %s, %s, %s, %s, %s, 'test')")


def make_comments(engine, *, seed: int = 9, per_session: int = 6, planted: bool = True,
                  label: bool = True) -> dict[str, list[tuple[str, int, int]]]:
    """Comments written the evening before each session carry a bullish word with probability 0.85 when
    the session will rise (``planted``; else independently of it); on each ticker's first session the
    junk. Labels and flags follow (``label``). Returns the junk's keys per rule it must meet."""
    rng = random.Random(seed)
    bars = query(engine, "SELECT ticker, trade_date, open, close FROM prices ORDER BY ticker, trade_date")
    rows, numbers, junk = [], iter(range(1, 10**7)), {"comment_spam": [], "comment_empty": [], "comment_duplicate": []}
    for ticker, days in itertools.groupby(bars, key=lambda bar: bar[0]):
        for i, ((_, previous, _, _), (_, _, o, c)) in enumerate(itertools.pairwise(days)):
            post_id = 1000 + i  # the post of the evening the comments are under
            evening = datetime.combine(previous, datetime.min.time(), KST) + timedelta(hours=17)
            for k in range(per_session):
                lean = (c > o) if planted else rng.random() < 0.5
                bullish = lean if rng.random() < 0.85 else not lean
                words = [*rng.sample(NEUTRAL, 3), rng.choice(BULL if bullish else BEAR)]
                rng.shuffle(words)
                rows.append((ticker, post_id, next(numbers), evening + timedelta(minutes=k * 5),
                             f"{' '.join(words)} {k}", False))
            if i == 0:
                for j, (rule, text, deleted) in enumerate(JUNK):
                    rows.append((ticker, post_id, next(numbers), evening + timedelta(minutes=40 + j), text, deleted))
                    if rule:
                        junk[rule].append(rows[-1][:3])
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        cur.executemany(_INSERT, rows)
    raw.commit()
    raw.close()
    if label:
        label_posts(engine, LabelDefinition.build("next_open_close"))
        check_quality(engine)
    return junk
