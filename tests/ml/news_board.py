"""News on a synthetic board's sessions whose headlines lean toward the coming move (a planted
signal), some stories carried by three offices."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta

from finsent.data.labels import LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.ingest.records import KST, NewsRow
from tests.data.board import add_news, query
from tests.ml.board import BEAR, BULL, NEUTRAL

COPY_OFFICES = ("009", "011")  # the offices that re-carry every third story


def story(ticker: str, article: int, when: datetime, title: str, offices: tuple[str, ...] = ("015",)) -> list[NewsRow]:
    """One story as its offices carry it (three minutes apart); the store keys it by its smallest article."""
    number = f"{article:010d}"
    return [NewsRow(ticker, office, number, when + timedelta(minutes=3 * i), title, None, None, f"015/{number}", "test")
            for i, office in enumerate(offices)]


def make_news(engine, *, seed: int = 5, per_session: int = 6) -> None:
    """Stories written the evening before each session carry a bullish word with probability 0.85
    when the session will rise; every third story is carried by three offices. Labels and flags follow."""
    rng = random.Random(seed)
    bars = query(engine, "SELECT ticker, trade_date, open, close FROM prices ORDER BY ticker, trade_date")
    rows, ids = [], iter(range(1, 10**7))
    for ticker, days in itertools.groupby(bars, key=lambda bar: bar[0]):
        for (_, previous, _, _), (_, _, o, c) in itertools.pairwise(days):
            for k in range(per_session):
                bullish = (c > o) if rng.random() < 0.85 else not (c > o)
                words = [*rng.sample(NEUTRAL, 3), rng.choice(BULL if bullish else BEAR)]
                rng.shuffle(words)
                when = datetime.combine(previous, datetime.min.time(), KST) + timedelta(hours=17, minutes=k * 9)
                offices = ("015", *COPY_OFFICES) if k % 3 == 0 else ("015",)
                rows += story(ticker, next(ids), when, f"{' '.join(words)} 뉴스 {k}", offices)
    add_news(engine, rows)
    label_posts(engine, LabelDefinition.build("next_open_close"))
    check_quality(engine)
