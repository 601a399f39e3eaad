"""Loopback worlds (``finsent.loopback.worlds``) stored as a crawl stores them, labelled, flagged and
walked: ready for ``finsent study``. The posts and bars go in through the crawl's own writers (the
crawl of the same pages is tested against the fake in tests/ingest), so a world costs seconds."""

from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from finsent.config import load_settings
from finsent.data.labels import LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.ingest.records import KST, PostRow, PriceRow
from finsent.ingest.store import insert_posts, upsert_prices
from finsent.loopback import FakeNaver
from finsent.ml.backtest import run_backtest
from finsent.ml.backtest.spec import BacktestSpec

TICKERS = {"005930": "삼성전자", "000660": "SK하이닉스", "035420": "NAVER", "005380": "현대차",
           "051910": "LG화학", "068270": "셀트리온", "000270": "기아", "105560": "KB금융"}
_TAG = re.compile(r"<[^>]+>")


def world(*, days: int = 360, per_day: int = 6, seed: int = 7, tickers: dict[str, str] = TICKERS) -> FakeNaver:
    """A fake with ``days`` calendar days of posts (``per_day`` a stock) and prices from 2025-04-01
    (after the short-sale ban), priced a month ahead of the first post."""
    start = datetime(2025, 4, 1, 0, 0)
    return FakeNaver(tickers=tickers, posts_per_ticker=days * per_day, seed=seed, first_post_at=start,
                     post_spacing=timedelta(days=1) / per_day, price_start=date(2025, 3, 1),
                     price_end=(start + timedelta(days=days + 40)).date(), stories_per_ticker=1)


def store(engine, fake: FakeNaver) -> None:
    posts = [PostRow(p.ticker, p.id, p.written_at.replace(tzinfo=KST), p.title,
                     p.body_text or html.unescape(_TAG.sub("", p.body_html.replace("<br>", "\n"))),
                     p.nickname, p.profile_id, p.reply_depth > 0, p.parent_id if p.reply_depth else None,
                     p.cleanbot_passed, p.holder_verified, p.post_type, p.views, p.likes, p.dislikes,
                     p.comment_count, "naver-mobile") for p in fake.all_posts()]
    bars = [PriceRow(t, r.trade_date, Decimal(r.open), Decimal(r.high), Decimal(r.low), Decimal(r.close), r.volume,
                     True, "fchart") for t, rows in fake.prices.items() for r in rows if r.volume > 0]
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        cur.executemany("INSERT INTO tickers (code, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                        list(fake.tickers.items()))
        insert_posts(cur, posts)
        upsert_prices(cur, bars, replace=True)
    raw.commit()
    raw.close()


def walked(engine, fake: FakeNaver, name: str, horizon: int = 1, train_sessions: int = 40) -> str:
    """Store, label (next_open_close at ``horizon``), flag and walk the world: the backtest's name."""
    store(engine, fake)
    definition = LabelDefinition.build("next_open_close", horizon=horizon)
    label_posts(engine, definition)
    check_quality(engine)
    spec = BacktestSpec(definition=definition.name, train_sessions=train_sessions, step_sessions=10)
    run, report = run_backtest(load_settings(), engine, name, spec)
    assert run.finished and report is not None
    return name
