"""Price files: rounding slips repaired within one KRX tick, rewritten histories leave no old-basis
bar behind, and no definition's stale labels reach a snapshot."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from finsent.cli import main
from finsent.data.build import DatasetSpec, build_dataset
from finsent.data.labels import LabelDefinition, label_posts
from finsent.errors import FinsentError, InputError
from finsent.ingest.importer import import_prices
from finsent.ingest.records import krx_tick
from tests.data.board import add_posts, post, query

T = "005930"
HEADER = "ticker,date,open,high,low,close,volume\n"
DAYS = [date(2025, 4, 1) + timedelta(days=i) for i in range(60)]
SESSIONS = [day for day in DAYS if day.weekday() < 5]


def write(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def test_krx_tick_sizes_follow_the_2023_table():
    prices = [1_999, 2_000, 4_999, 5_000, 19_999, 20_000, 49_999, 50_000, 199_999, 200_000, 499_999, 500_000, 876_387]
    ticks = [1, 5, 5, 10, 10, 50, 50, 100, 100, 500, 500, 1_000, 1_000]
    assert [krx_tick(Decimal(p)) for p in prices] == [Decimal(t) for t in ticks]


def test_a_close_one_won_above_high_is_repaired_and_counted(engine, tmp_path, capsys):
    rows = ["005930,2025-05-06,815000,830000,810000,820000,1000",
            "005930,2025-05-07,819275,876387,814351,876388,1000",  # the row: close 1 won above high
            "005930,2025-05-08,876000,880000,870000,871000,1000"]
    path = write(tmp_path, "prices.csv", rows)
    assert main(["import", "prices", str(path)]) == 0
    assert "1 bars repaired for rounding" in capsys.readouterr().out
    assert query(engine, "SELECT open, high, low, close FROM prices WHERE trade_date = '2025-05-07'") == [
        (Decimal("819275"), Decimal("876388"), Decimal("814351"), Decimal("876388"))]


@pytest.mark.parametrize("row", [
    "005930,2025-05-07,819275,876387,814351,877388,1000",  # 1,001 above high: more than the 1,000 tick
    "005930,2025-05-07,4000,4100,4010,4050,1000",  # open 10 below low: two ticks of 5
])
def test_more_than_one_tick_out_stays_refused(engine, tmp_path, row):
    path = write(tmp_path, "prices.csv", ["005930,2025-05-06,815000,830000,810000,820000,1000", row])
    with pytest.raises(InputError, match=rf"{path}:3: expected low <= open, close <= high.*more than one KRX tick"):
        import_prices(engine, path)
    assert query(engine, "SELECT count(*) FROM prices") == [(0,)]


def _history(scale: Decimal, skip: date | None = None) -> list[str]:
    rows = []
    for i, day in enumerate(SESSIONS):
        if day == skip:
            continue
        close = (Decimal(50_000 + 500 * (i % 7)) * scale).quantize(Decimal(1))
        rows.append(f"{T},{day},{close},{close},{close},{close},1000")
    return rows


def _board(engine) -> None:
    add_posts(engine, [post(T, datetime.combine(d, datetime.min.time()) + timedelta(hours=20), f"p{d}")
                       for d in SESSIONS])


# Every label of every definition recomputed from the prices as they are now.
STALE = """
SELECT l.definition, l.ticker, l.post_id FROM labels l
JOIN label_definitions d ON d.name = l.definition AND d.rule <> 'next_open_close'  -- close to close only
JOIN prices b ON b.ticker = l.ticker AND b.trade_date = l.base_date
JOIN prices t ON t.ticker = l.ticker AND t.trade_date = l.target_date
WHERE abs(l.ret - (t.close / b.close - 1)::float8) > 1e-9
"""


def test_a_split_adjusted_file_missing_a_session_leaves_no_old_bar(engine, tmp_path):
    _board(engine)
    import_prices(engine, write(tmp_path, "old.csv", _history(Decimal(1))))
    label_posts(engine, LabelDefinition.build("next_session"))
    gone = SESSIONS[30]
    report = import_prices(engine, write(tmp_path, "adjusted.csv", _history(Decimal("0.1"), skip=gone)))
    assert any("lacks 1 stored session" in note and str(gone) in note for note in report.notes)
    assert query(engine, "SELECT count(*) FROM prices WHERE trade_date = :d", d=gone) == [(0,)]
    assert query(engine, "SELECT count(*) FROM labels WHERE :d BETWEEN base_date AND target_date", d=gone) == [(0,)]
    label_posts(engine, LabelDefinition.build("next_session"))
    moves = [abs(r[0]) for r in query(engine, "SELECT ret FROM labels")]
    assert moves and max(moves) < 0.5  # before: the unadjusted bar left behind made +900% labels
    assert query(engine, STALE) == []


def test_a_file_that_only_adds_sessions_deletes_nothing(engine, tmp_path):
    import_prices(engine, write(tmp_path, "old.csv", _history(Decimal(1))))
    kept = SESSIONS[30]
    report = import_prices(engine, write(tmp_path, "same.csv", _history(Decimal(1), skip=kept)))
    assert report.notes == [] and query(engine, "SELECT count(*) FROM prices WHERE trade_date = :d", d=kept) == [(1,)]


def test_a_rewrite_leaves_no_definition_with_stale_labels_in_a_snapshot(engine, tmp_path, settings):
    _board(engine)
    import_prices(engine, write(tmp_path, "old.csv", _history(Decimal(1))))
    three = LabelDefinition.build("next_session", horizon=3)
    for definition in (LabelDefinition.build("next_session"), three):
        label_posts(engine, definition)
    import_prices(engine, write(tmp_path, "adjusted.csv", _history(Decimal("0.1"))))
    label_posts(engine, LabelDefinition.build("next_session"))  # what the daily DAG used to relabel
    spec = DatasetSpec.from_options(definition=three.name, rules="none")
    with pytest.raises(FinsentError, match=r"labels under 'next_session_h3' use prices that changed.*"
                                           r"finsent label --rule next_session --horizon 3"):
        build_dataset(engine, "after_split", spec, settings.data_dir)
    assert query(engine, "SELECT count(*) FROM datasets") == [(0,)]
    assert label_posts(engine, three).relabelled > 0
    summary = build_dataset(engine, "after_split", spec, settings.data_dir)
    assert summary.rows > 0 and query(engine, STALE) == []


def test_the_daily_label_task_relabels_every_definition(engine, tmp_path):
    from finsent.data.labels import count_stale_labels
    from finsent.orchestration.tasks import label_and_flag

    _board(engine)
    import_prices(engine, write(tmp_path, "old.csv", _history(Decimal(1))))
    label_posts(engine, LabelDefinition.build("next_session", horizon=3))
    import_prices(engine, write(tmp_path, "adjusted.csv", _history(Decimal("0.1"))))
    assert "next_session_h3" in label_and_flag()["labelled"]
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            assert count_stale_labels(cur, "next_session_h3") == 0
            assert count_stale_labels(cur, "next_open_close") == 0
    finally:
        raw.close()
    assert query(engine, STALE) == []
