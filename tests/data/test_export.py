"""``finsent export``: each table's rows as CSV, Parquet and JSON, equal to the table under the
filters; written atomically (an error leaves the file that was there); bad input exits 2."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from finsent.cli import main
from finsent.data import export as export_module
from tests.data.board import query
from tests.data.published import DAYS, seed_published

# each table read independently of the export's own SQL: column list and rows, in the export's order
TABLE_SQL = {
    "daily-sentiment": ("source, model_version, ticker, session_date, n_posts, mean_p_up, bull_share, updated_at",
                        "SELECT {c} FROM daily_sentiment WHERE {w} ORDER BY source, model_version, ticker, "
                        "session_date"),
    "backtest": ("backtest, source, ticker, session_date, n_posts, mean_p_up, ret",
                 "SELECT {c} FROM backtest_daily WHERE {w} ORDER BY backtest, source, ticker, session_date"),
    "study": ("study, backtest, signal, target, horizon, ic, ic_low, ic_high, sessions, blocks, p, p_adjusted, verdict",
              "SELECT {c} FROM study_cells JOIN studies ON name = study WHERE {w} "
              "ORDER BY study, signal, target, horizon"),
    "study-books": ("study, backtest, signal, hold, kind, sessions, gross_mean, net_mean, sharpe, sharpe_low, "
                    "sharpe_high, net_sharpe, net_sharpe_low, net_sharpe_high, turnover, max_drawdown, "
                    "break_even_bps, long_only_sessions",
                    "SELECT {c} FROM study_books JOIN studies ON name = study WHERE {w} ORDER BY study, signal, hold, "
                    "kind"),
}


@pytest.fixture
def published(engine):
    seed_published(engine)
    return engine


def _db(engine, table: str, where: str = "true", **params) -> list[dict]:
    columns, sql = TABLE_SQL[table]
    return [dict(zip(columns.split(", "), row)) for row in query(engine, sql.format(c=columns, w=where), **params)]


def _typed(record: dict) -> dict:
    """A JSON or CSV record's values read back as the table's types (dates, times, numbers)."""
    out = {}
    for key, value in record.items():
        if value in ("", None):
            value = None
        elif key.endswith("_date"):
            value = date.fromisoformat(value)
        elif key.endswith("_at"):
            value = datetime.fromisoformat(value)
        elif key in ("model_version", "n_posts", "post_id", "horizon", "sessions", "blocks", "hold",
                     "long_only_sessions"):
            value = int(value)
        elif key in ("mean_p_up", "bull_share", "ret", "p_up", "ic", "ic_low", "ic_high", "p", "p_adjusted",
                     "gross_mean", "net_mean", "sharpe", "net_sharpe", "turnover", "max_drawdown", "break_even_bps"):
            value = float(value)
        out[key] = value
    return out


def _export(tmp_path: Path, table: str, fmt: str, *flags: str) -> list[dict]:
    out = tmp_path / f"{table}.{fmt}"
    assert main(["export", table, "--format", fmt, "--out", str(out), *flags]) == 0
    if fmt == "json":
        return [_typed(r) for r in json.loads(out.read_text(encoding="utf-8"))]
    if fmt == "csv":
        with out.open(encoding="utf-8", newline="") as handle:
            return [_typed(r) for r in csv.DictReader(handle)]
    return pq.read_table(out).to_pylist()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
@pytest.mark.parametrize("table", ["daily-sentiment", "backtest", "study", "study-books"])
def test_the_export_equals_the_table(published, tmp_path, table, fmt):
    rows = _export(tmp_path, table, fmt)
    assert len(rows) >= 8 and rows == _db(published, table)


def test_a_study_by_name_and_filters_a_table_cannot_apply(published, tmp_path, caplog):
    assert _export(tmp_path, "study", "json", "--study", "grid") == _db(published, "study", "study = 'grid'")
    assert _export(tmp_path, "study-books", "csv", "--backtest", "walk") == _db(published, "study-books")
    out = tmp_path / "refused.csv"
    assert main(["export", "study", "--out", str(out), "--tickers", "005930"]) == 2
    assert "--tickers does not apply to study (it takes --study, --backtest)" in caplog.text
    assert main(["export", "daily-sentiment", "--out", str(out), "--study", "grid"]) == 2
    assert "--study does not apply to daily-sentiment" in caplog.text and not out.exists()


def test_the_filters_keep_what_they_say(published, tmp_path):
    flags = ["--tickers", "005930", "--from", str(DAYS[2]), "--to", str(DAYS[5]), "--source", "board",
             "--model-version", "2"]
    rows = _export(tmp_path, "daily-sentiment", "json", *flags)
    expected = _db(published, "daily-sentiment", "ticker = '005930' AND session_date BETWEEN :a AND :b AND "
                   "source = 'board' AND model_version = 2", a=DAYS[2], b=DAYS[5])
    assert len(rows) == 4 and rows == expected
    walk = _export(tmp_path, "backtest", "csv", "--backtest", "walk", "--source", "news", "--tickers", "000660")
    assert walk == _db(published, "backtest", "backtest = 'walk' AND source = 'news' AND ticker = '000660'")
    assert _export(tmp_path, "backtest", "json", "--backtest", "other") == []


def test_scores_hold_every_scored_post_and_headline(published, tmp_path):
    rows = _export(tmp_path, "scores", "parquet")
    board = query(published, "SELECT s.model_version, s.ticker, s.post_id, p.posted_at, s.p_up FROM post_scores s "
                             "JOIN posts p USING (ticker, post_id) ORDER BY 1, 2, 4, 3")
    news = query(published, "SELECT s.model_version, s.ticker, s.office_id, s.article_id, n.published_at, s.p_up "
                             "FROM news_scores s JOIN news n USING (ticker, office_id, article_id) ORDER BY 1, 2, 5")
    assert [(r["model_version"], r["ticker"], r["post_id"], r["posted_at"], r["p_up"]) for r in rows
            if r["source"] == "board"] == [tuple(r) for r in board]
    assert [(r["model_version"], r["ticker"], r["office_id"], r["article_id"], r["posted_at"], r["p_up"])
            for r in rows if r["source"] == "news"] == [tuple(r) for r in news]
    assert len(rows) == len(board) + len(news)
    # --from/--to on the post's KST date: a headline at 23:50 KST is that day's, not the next UTC day's
    day = _export(tmp_path, "scores", "json", "--source", "news", "--from", str(DAYS[3]), "--to", str(DAYS[3]))
    assert len(day) == 2 and {r["posted_at"].date() for r in day} == {DAYS[3]}
    assert all(r["posted_at"].utcoffset().total_seconds() == 9 * 3600 for r in day)  # KST


def test_the_three_formats_agree_and_csv_json_use_iso_times(published, tmp_path):
    exported = {fmt: _export(tmp_path, "daily-sentiment", fmt) for fmt in ("csv", "parquet", "json")}
    assert exported["csv"] == exported["json"] == exported["parquet"]
    first = json.loads((tmp_path / "daily-sentiment.json").read_text())[0]
    assert first["updated_at"].endswith("+09:00") and first["session_date"] == str(DAYS[0])


def test_an_error_leaves_the_file_that_was_there(published, tmp_path, monkeypatch):
    out = tmp_path / "index.csv"
    out.write_text("the old export\n")

    def broken(chunks, spec, fmt, stream):
        stream.write(b"half a file")
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(export_module, "write_export", broken)
    with pytest.raises(RuntimeError):
        main(["export", "daily-sentiment", "--out", str(out)])
    assert out.read_text() == "the old export\n" and sorted(p.name for p in tmp_path.iterdir()) == ["index.csv"]


@pytest.mark.parametrize("flags, message", [
    (["--tickers", "999999"], "unknown ticker code(s): 999999"),
    (["--tickers", "5930"], "is not a six-character KRX code"),
    (["--from", "2024-03-09", "--to", "2024-03-01"], "--from 2024-03-09 is after --to 2024-03-01"),
    (["--model-version", "0"], "--model-version must be at least 1"),
])
def test_bad_input_exits_2_and_writes_nothing(published, tmp_path, caplog, flags, message):
    out = tmp_path / "x.json"
    assert main(["export", "daily-sentiment", "--out", str(out), *flags]) == 2
    assert message in caplog.text and not list(tmp_path.iterdir())


def test_bad_places_and_formats_exit_2(published, tmp_path, caplog, capsys):
    assert main(["export", "scores", "--out", str(tmp_path / "no" / "such" / "folder.csv")]) == 2
    assert "does not exist" in caplog.text
    assert main(["export", "scores", "--out", str(tmp_path)]) == 2
    assert "is a folder" in caplog.text
    assert main(["export", "scores", "--out", str(tmp_path / "scores.txt")]) == 2
    assert "say --format csv|parquet|json" in caplog.text
    for argv in (["export", "posts", "--out", "x.csv"], ["export", "scores", "--out", "x.csv", "--from", "2024-13-01"],
                 ["export", "scores", "--out", "x.csv", "--format", "xlsx"]):
        with pytest.raises(SystemExit) as refused:
            main(argv)
        assert refused.value.code == 2
    assert not list(tmp_path.iterdir())
