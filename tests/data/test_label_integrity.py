"""Labels stay true to the prices: exam-day openings, no relabel lost to a race, all or nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
import sqlalchemy as sa

from finsent.cli import main
from finsent.config import load_settings
from finsent.data.labels import LabelDefinition, label_posts
from finsent.errors import ConfigError
from finsent.ingest.importer import import_prices
from finsent.ingest.prices import sync_prices
from finsent.loopback.admin import split
from tests.data.board import add_posts, add_prices, post, query
from tests.ingest.test_price_history import STALE_LABELS

T = "005930"
D = date


def test_the_csat_day_opens_at_ten(engine):
    # Wed 2025-11-12, Thu 2025-11-13 (CSAT: 10:00-16:30), Fri 2025-11-14
    add_prices(engine, T, {D(2025, 11, 12): 100, D(2025, 11, 13): 110, D(2025, 11, 14): 99})
    add_posts(engine, [post(T, datetime(2025, 11, 13, 9, 30), "before the late open", post_id=1),
                       post(T, datetime(2025, 11, 13, 10, 0), "at the late open", post_id=2),
                       post(T, datetime(2025, 11, 12, 9, 30), "a regular day", post_id=3)])
    label_posts(engine, LabelDefinition.build("next_session"))
    got = dict(query(engine, "SELECT post_id, session_date FROM labels"))
    assert got == {1: D(2025, 11, 13), 2: D(2025, 11, 14), 3: D(2025, 11, 13)}


def _board(engine, days: int = 60):
    start = D(2024, 3, 4)
    sessions = [start + timedelta(days=i) for i in range(days * 7 // 5) if (start + timedelta(days=i)).weekday() < 5]
    add_prices(engine, T, {d: 100 + (i % 9) for i, d in enumerate(sessions)})
    add_posts(engine, [post(T, datetime.combine(d, datetime.min.time()) + timedelta(hours=h), f"p{d}{h}")
                       for d in sessions for h in (8, 12, 20)])
    return sessions


def test_no_relabel_is_lost_while_prices_are_written(engine, naver, tmp_path: Path):
    """`label` runs over and over while `import prices` rewrites one stock's closes and `prices`
    rewrites another's history (a split); afterwards every label matches the prices."""
    sessions = _board(engine)
    sync_prices(load_settings(), engine, ["000660"])
    add_posts(engine, [post("000660", datetime.combine(r.trade_date, datetime.min.time()) + timedelta(hours=20),
                            f"h{r.trade_date}") for r in naver.prices["000660"][-60:]])
    stop = threading.Event()

    def keep_labelling() -> int:
        runs = 0
        while not stop.is_set():
            label_posts(engine, LabelDefinition.build("next_session"), workers=2)
            runs += 1
        return runs

    def import_closes() -> None:
        for round_ in range(6):
            path = tmp_path / f"prices{round_}.csv"
            lines = [f"{T},{d},{c},{c},{c},{c},1000" for d, c in
                     ((d, 100 + (i * (round_ + 2)) % 13) for i, d in enumerate(sessions))]
            path.write_text("ticker,date,open,high,low,close,volume\n" + "\n".join(lines) + "\n", encoding="utf-8")
            import_prices(engine, path)

    def split_and_sync() -> None:
        for _ in range(3):
            split(naver, "000660", 2)
            assert sync_prices(load_settings(), engine, ["000660"])[0].status == "rewritten"

    with ThreadPoolExecutor(max_workers=3) as pool:
        labeller = pool.submit(keep_labelling)
        try:
            for writer in [pool.submit(import_closes), pool.submit(split_and_sync)]:
                writer.result()  # a writer's failure fails the test here
        finally:
            stop.set()
        assert labeller.result() >= 1
    label_posts(engine, LabelDefinition.build("next_session"))
    with engine.connect() as conn:
        assert conn.execute(sa.text(STALE_LABELS)).fetchall() == []
    assert query(engine, "SELECT count(DISTINCT ticker) FROM labels") == [(2,)]


def test_a_failed_label_run_loses_no_labels(engine):
    sessions = _board(engine, days=20)
    label_posts(engine, LabelDefinition.build("next_session"))
    before = query(engine, "SELECT count(*) FROM labels")[0][0]
    add_prices(engine, T, {sessions[5]: 250})  # makes some labels stale
    with engine.begin() as conn:  # the insert fails after the stale labels were deleted
        conn.execute(sa.text("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                             "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"))
        conn.execute(sa.text("CREATE TRIGGER refuse BEFORE INSERT ON labels FOR EACH ROW EXECUTE FUNCTION refuse()"))
    with pytest.raises(psycopg2.Error, match="disk full"):
        label_posts(engine, LabelDefinition.build("next_session"), workers=1)
    assert query(engine, "SELECT count(*) FROM labels")[0][0] == before
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER refuse ON labels"))
    assert label_posts(engine, LabelDefinition.build("next_session")).relabelled > 0
    with engine.connect() as conn:
        assert conn.execute(sa.text(STALE_LABELS)).fetchall() == []


def test_two_label_runs_of_one_definition_take_turns(engine):
    _board(engine, days=30)
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = [pool.submit(label_posts, engine, LabelDefinition.build("next_session")) for _ in range(3)]
        results = [run.result().labelled for run in runs]  # never a UniqueViolation
    assert sorted(results)[:-1] == [0, 0]  # one labelled everything, the others found nothing left
    assert query(engine, "SELECT count(*) FROM labels")[0][0] == max(results)


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../x", "x" * 65, "Upper", "-lead"])
def test_bad_label_definition_names_are_refused_before_any_work(engine, name, caplog):
    with pytest.raises(ConfigError):
        LabelDefinition.build("next_session", name=name)
    assert main(["label", f"--name={name}"]) == 2
    assert query(engine, "SELECT count(*) FROM label_definitions") == [(0,)]
