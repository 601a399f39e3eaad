"""Rows of every table finsent publishes (``finsent export``, the JSON API), written straight into
the real tables: two stocks, both sources, two model versions, one backtest."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from finsent.ingest.records import KST, NewsRow
from tests.data.board import add_news, add_posts, post

TICKERS = ("005930", "000660")
DAYS = [date(2024, 3, 4) + timedelta(days=i) for i in range(10)]


def seed_published(engine: sa.Engine) -> None:
    posts = [post(t, datetime.combine(d, datetime.min.time()).replace(hour=8 + k), f"제목 {t} {d} {k}",
                  post_id=10_000 * i + 10 * j + k)
             for i, t in enumerate(TICKERS) for j, d in enumerate(DAYS) for k in range(3)]
    add_posts(engine, posts)
    news = [NewsRow(t, "015", f"{100_000 * i + j:010d}",
                    datetime.combine(d, datetime.min.time()).replace(hour=23, minute=50, tzinfo=KST),
                    f"뉴스 {t} {d}", None, None, f"015/{100_000 * i + j:010d}", "test")
            for i, t in enumerate(TICKERS) for j, d in enumerate(DAYS)]
    add_news(engine, news)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO post_scores (model_version, ticker, post_id, p_up) VALUES (:v, :t, :i, :p)"),
                     [{"v": v, "t": p.ticker, "i": p.post_id, "p": round(0.1 + (p.post_id % 7) / 10 + v / 100, 3)}
                      for p in posts for v in (1, 2)])
        conn.execute(sa.text("INSERT INTO news_scores (model_version, ticker, office_id, article_id, p_up) "
                             "VALUES (1, :t, :o, :a, :p)"),
                     [{"t": n.ticker, "o": n.office_id, "a": n.article_id, "p": 0.25 + int(n.article_id) % 5 / 10}
                      for n in news])
        conn.execute(sa.text("INSERT INTO daily_sentiment (source, model_version, ticker, session_date, n_posts, "
                             "mean_p_up, bull_share) VALUES (:s, :v, :t, :d, 3, :m, 0.5)"),
                     [{"s": s, "v": v, "t": t, "d": d, "m": 0.3 + j / 50 + v / 100}
                      for s, versions in (("board", (1, 2)), ("news", (1,))) for v in versions
                      for t in TICKERS for j, d in enumerate(DAYS)])
        conn.execute(sa.text("INSERT INTO backtests (name, spec, steps_total, status, finished_at) VALUES "
                             "('walk', '{}', 1, 'done', now())"))
        conn.execute(sa.text("INSERT INTO backtest_daily (backtest, source, ticker, session_date, n_posts, mean_p_up, "
                             "ret) VALUES ('walk', :s, :t, :d, 3, :m, :r)"),
                     [{"s": s, "t": t, "d": d, "m": 0.4 + j / 40, "r": (j - 5) / 1000}
                      for s in ("board", "news") for t in TICKERS for j, d in enumerate(DAYS)])
        conn.execute(sa.text("INSERT INTO studies (name, backtest, spec, report) VALUES "
                             "('grid', 'walk', '{}', '{}'), ('other', 'walk', '{}', '{}')"))
        conn.execute(sa.text("INSERT INTO study_cells (study, signal, target, horizon, ic, ic_low, ic_high, sessions, "
                             "blocks, p, p_adjusted, verdict) VALUES (:s, :g, :t, :h, :ic, NULL, NULL, 10, :b, "
                             ":p, :p, 'too few sessions')"),
                     [{"s": s, "g": g, "t": t, "h": h, "ic": 0.01 * h, "b": 10 // h, "p": 0.5}
                      for s in ("grid", "other") for g in ("index", "change") for t in ("open_close", "close_close")
                      for h in (1, 5)])
        conn.execute(sa.text("INSERT INTO study_books (study, signal, hold, kind, sessions, gross_mean, net_mean, "
                             "sharpe, net_sharpe, turnover, max_drawdown, break_even_bps, long_only_sessions) VALUES "
                             "(:s, 'index', :h, :k, 9, 0.001, -0.002, 1.5, -0.7, 0.4, 0.12, 8.5, 0)"),
                     [{"s": s, "h": h, "k": k} for s in ("grid", "other") for h in (1, 5)
                      for k in ("long_short", "long_only")])
