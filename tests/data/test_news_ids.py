"""News ids the schema accepts fit every snapshot and backtest (issue 32 #7): a 20-digit article id
does not overflow, two articles that the old -(office_id * 10^10 + article_id) made one stay two,
and an upgraded database keeps the ids its snapshots and backtest scores were written with."""

from __future__ import annotations

import shutil
import uuid
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from finsent.db import SQL_DIR, upgrade
from finsent.ingest.records import KST, NewsRow
from finsent.ml.backtest import run_backtest
from finsent.ml.backtest.spec import BacktestSpec
from tests.data.board import add_news, query
from tests.ml.board import make_board
from tests.ml.news import make_news

TICKERS = ("005930", "000660")
# 1 * 10^10 + 20000000005 == 3 * 10^10 + 5: one old id for two articles
COLLIDING = (("001", "20000000005"), ("003", "0000000005"))
LONG = "98765432109876543210"  # 20 digits: beyond bigint


def rekey(engine, ticker: str, office: str, article: str, new_office: str, new_article: str) -> None:
    """Give a stored, labelled and flagged article other ids (its rows in every news table)."""
    with engine.begin() as conn:
        for table in ("news", "news_labels", "news_flags"):
            conn.exec_driver_sql(f"UPDATE {table} SET office_id = %s, article_id = %s WHERE ticker = %s AND "
                                 "office_id = %s AND article_id = %s",
                                 (new_office, new_article, ticker, office, article))


def test_long_and_colliding_article_ids_in_a_snapshot_and_a_backtest(engine):
    make_board(engine, planted=False, sessions=50, per_session=0, tickers=TICKERS)  # prices, no posts
    make_news(engine, planted=True)
    # three of one ticker's labelled articles get the ids the old mapping could not carry
    (a, b, c) = [r[0] for r in query(engine, "SELECT l.article_id FROM news_labels l WHERE l.ticker = '005930' AND "
                                             "l.office_id = '015' AND l.definition = 'next_open_close' AND "
                                             "l.label <> 'flat' ORDER BY l.article_id DESC LIMIT 3 OFFSET 12")]
    rekey(engine, "005930", "015", a, *COLLIDING[0])
    rekey(engine, "005930", "015", b, *COLLIDING[1])
    rekey(engine, "005930", "015", c, "015", LONG)
    summary = build_dataset(engine, "news", DatasetSpec(source="news", rules=(), test_frac=0.3),
                            load_settings().data_dir)
    assert summary.rows > 0
    ids = query(engine, "SELECT r.office_id, r.article_id, r.post_id FROM dataset_rows r WHERE r.dataset = 'news' "
                        "AND r.ticker = '005930' AND (r.office_id, r.article_id) IN (('001', :a), ('003', :b), "
                        "('015', :c))", a=COLLIDING[0][1], b=COLLIDING[1][1], c=LONG)
    assert len(ids) == 3 and len({post_id for *_, post_id in ids}) == 3 and all(p < 0 for *_, p in ids)
    # every news row of the snapshot reads back to its article
    assert query(engine, "SELECT count(*) FROM dataset_rows r WHERE r.dataset = 'news' AND NOT EXISTS (SELECT 1 "
                         "FROM news n WHERE (n.ticker, n.office_id, n.article_id, -n.item_id) = "
                         "(r.ticker, r.office_id, r.article_id, r.post_id))") == [(0,)]
    _, report = run_backtest(load_settings(), engine, "walk", BacktestSpec(train_sessions=20, step_sessions=5,
                                                                            source="news", rules=()))
    scored = query(engine, "SELECT n.office_id, n.article_id FROM backtest_scores s JOIN news n ON n.ticker = s.ticker "
                           "AND -n.item_id = s.post_id WHERE s.backtest = 'walk' AND s.ticker = '005930' AND "
                           "(n.office_id, n.article_id) IN (('001', :a), ('003', :b), ('015', :c))",
                   a=COLLIDING[0][1], b=COLLIDING[1][1], c=LONG)
    (walked,) = query(engine, "SELECT count(*) FROM news_labels l WHERE l.ticker = '005930' AND l.definition = "
                              "'next_open_close' AND (l.office_id, l.article_id) IN (('001', :a), ('003', :b), "
                              "('015', :c)) AND l.session_date > (SELECT min(trained_through) FROM backtest_scores "
                              "WHERE backtest = 'walk')", a=COLLIDING[0][1], b=COLLIDING[1][1], c=LONG)[0]
    assert len(scored) == walked and walked > 0  # each scored as itself
    assert report is not None


def test_an_upgrade_keeps_the_ids_old_snapshots_used(pg_admin_url: str, tmp_path: Path):
    """A database upgraded across sql/0032: the articles whose old id fit and was unique keep it (old
    snapshot rows still read back); the others get new ids, unique per ticker, above every kept one."""
    earlier = tmp_path / "sql"
    earlier.mkdir()
    for path in sorted(SQL_DIR.glob("*.sql")):
        if int(path.name[:4]) < 32:
            shutil.copy(path, earlier / path.name)
    name = f"finsent_upgrade_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(sa.engine.make_url(pg_admin_url).set(database=name))
    try:
        upgrade(engine, earlier)
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO tickers (code, name) VALUES ('005930', '삼성전자')")
        when = datetime(2024, 3, 4, 20, tzinfo=KST)
        articles = [("015", "0005012345"), *COLLIDING, ("015", LONG), ("000", "0")]
        add_news(engine, [NewsRow("005930", o, a, when, f"기사 {a}", None, None, f"{o}/{a}", "test")
                          for o, a in articles])
        with engine.begin() as conn:  # a snapshot row written before the upgrade, with the old id
            conn.exec_driver_sql("INSERT INTO datasets (name, spec, content_hash, rows) VALUES ('old', '{}', 'x', 1)")
            conn.exec_driver_sql("INSERT INTO dataset_rows (dataset, ticker, post_id, split, label, session_date, "
                                 "source, office_id, article_id) VALUES ('old', '005930', -150005012345, 'train', "
                                 "'up', '2024-03-05', 'news', '015', '0005012345')")
        upgrade(engine)
        ids = {(o, a): i for o, a, i in query(engine, "SELECT office_id, article_id, item_id FROM news")}
        assert ids[("015", "0005012345")] == 150005012345  # kept: the old snapshot row still reads back
        assert query(engine, "SELECT count(*) FROM dataset_rows r JOIN news n ON -n.item_id = r.post_id AND "
                             "n.ticker = r.ticker") == [(1,)]
        # the colliding pair: the one whose old id fit keeps it, the 11-digit one gets a new id
        assert ids[COLLIDING[1]] == 30000000005 and ids[COLLIDING[0]] > 150005012345
        assert ids[("015", LONG)] > 150005012345 and ids[("000", "0")] > 0
        assert len(set(ids.values())) == len(ids)
        add_news(engine, [NewsRow("005930", "015", "0005099999", when, "새 기사", None, None, "015/0005099999",
                                  "test")])
        (new,) = query(engine, "SELECT item_id FROM news WHERE article_id = '0005099999'")[0]
        assert new > max(ids.values())  # drawn from the sequence, above every id kept
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

