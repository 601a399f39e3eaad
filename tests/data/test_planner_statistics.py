"""Issue 32 #1: after a bulk write the planner knows the table (every bulk writer analyses what it
wrote), and the dataset build's read costs an index probe per row even where the planner picks
nested loops: the ``sessions`` window is computed once, never per row. The speed itself is measured
in bench/dataset.py."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from finsent.config import load_settings
from finsent.data.build import SESSIONS_SQL, DatasetSpec, build_dataset, selection_sql
from finsent.data.labels import LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.db import raw_transaction
from finsent.ingest.importer import import_posts, import_prices
from finsent.ml.score import score_posts
from finsent.ml.spec import ScoreSpec
from finsent.ml.train import train_model
from tests.data.board import add_posts, post, query

WRITTEN = ("posts", "prices", "labels", "post_quality", "post_flags")


def planner_rows(engine, table: str) -> float:
    """What the planner believes the table holds (-1: never analysed)."""
    return query(engine, "SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)", t=table)[0][0]


def no_autovacuum(engine, tables) -> None:
    """Autovacuum would analyse in its own time: here only the writers may."""
    with engine.begin() as conn:
        for table in tables:
            conn.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")


def write_board_files(folder: Path, tickers=("005930", "000660"), sessions: int = 40, per_day: int = 30):
    days, day = [], date(2024, 1, 2)
    while len(days) < sessions:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    prices, posts = ["ticker,date,open,high,low,close,volume"], ["ticker,post_id,posted_at,title"]
    next_id = 1
    for t in tickers:
        for i, d in enumerate(days):
            close = 10_000 + 100 * ((i * 7) % 11) - 500
            prices.append(f"{t},{d},{close},{close},{close},{close},1000")
            for k in range(per_day):
                at = datetime.combine(d, datetime.min.time()) + timedelta(hours=8, minutes=31 * k)
                posts.append(f"{t},{next_id},{at:%Y-%m-%d %H:%M},제목 {next_id} 매수 {k % 5}")
                next_id += 1
    (folder / "prices.csv").write_text("\n".join(prices) + "\n", encoding="utf-8")
    (folder / "posts.csv").write_text("\n".join(posts) + "\n", encoding="utf-8")
    return next_id - 1


def test_bulk_writers_leave_the_planner_their_statistics(engine, tmp_path: Path):
    no_autovacuum(engine, WRITTEN)
    assert all(planner_rows(engine, t) < 0 for t in WRITTEN)  # never analysed: the planner guesses
    n = write_board_files(tmp_path)
    import_prices(engine, tmp_path / "prices.csv")
    import_posts(engine, tmp_path / "posts.csv")
    label_posts(engine, LabelDefinition.build("next_open_close"))
    check_quality(engine)
    for table in WRITTEN:
        (stored,) = query(engine, f"SELECT count(*) FROM {table}")[0]
        assert stored > 0 and abs(planner_rows(engine, table) - stored) <= 0.1 * stored, (table, stored)
    assert query(engine, "SELECT count(*) FROM posts")[0][0] == n
    # a big day after a small one: the planner is told again (a 200-board backfill after a quiet start)
    more = [post("005930", datetime(2024, 2, 1, 20) + timedelta(seconds=i), f"추가 {i} 손절") for i in range(3000)]
    add_posts(engine, more)
    before = planner_rows(engine, "labels")
    label_posts(engine, LabelDefinition.build("next_open_close"))
    assert planner_rows(engine, "labels") >= before + 2500


def test_scoring_a_backfill_analyses_its_scores(engine, planted):
    settings = load_settings()
    version = train_model(settings, engine, planted, "baseline").version
    score_posts(settings, engine, ScoreSpec(alias=str(version)))
    no_autovacuum(engine, ("post_scores",))
    add_posts(engine, [post("005930", datetime(2024, 3, 1, 20) + timedelta(seconds=i), f"백필 {i} 가즈아")
                       for i in range(2000)])
    score_posts(settings, engine, ScoreSpec(alias=str(version)))  # incremental: the new posts only
    (stored,) = query(engine, "SELECT count(*) FROM post_scores")[0]
    assert abs(planner_rows(engine, "post_scores") - stored) <= 0.1 * stored


def test_the_dataset_read_never_recomputes_sessions_per_row(engine, planted):
    """Forced into nested loops (what a planner without statistics picks), each labelled post costs
    index probes of the sessions made once: no window over the prices inside the loop."""
    params = {"definition": "next_open_close", "start": None, "end": None, "tickers": [], "rules": [],
              "seed": "0"}
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        cur.execute(SESSIONS_SQL)
        cur.execute("SET LOCAL enable_hashjoin = off")
        cur.execute("SET LOCAL enable_mergejoin = off")
        cur.execute("EXPLAIN " + selection_sql(DatasetSpec(rules=())), params)
        plan = "\n".join(row[0] for row in cur.fetchall())
        raw.rollback()
    assert "Nested Loop" in plan and "WindowAgg" not in plan, plan
    # and the build itself reads the same way
    summary = build_dataset(engine, "again", DatasetSpec(rules=()), load_settings().data_dir)
    assert summary.rows > 0


def test_a_crawl_backfill_analyses_what_it_stored(engine, naver):
    from finsent.ingest.crawl import crawl_boards
    from finsent.ingest.news_crawl import crawl_news

    no_autovacuum(engine, ("posts", "news"))
    settings = load_settings()
    assert all(r.ok for r in crawl_boards(settings, engine, ["005930", "000660"], workers=1))
    assert all(r.ok for r in crawl_news(settings, engine, ["005930", "000660"]))
    for table in ("posts", "news"):
        (stored,) = query(engine, f"SELECT count(*) FROM {table}")[0]
        assert stored > 0 and abs(planner_rows(engine, table) - stored) <= 0.1 * stored, (table, stored)
