"""Bad input gets exit 2 with the file and line, and loses nothing; a dropped connection is one line."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from finsent.cli import main
from finsent.errors import InputError
from finsent.ingest.feeds import board_json
from finsent.ingest.importer import import_posts, import_prices
from finsent.ingest.records import KST
from tests.ingest.helpers import count

POSTS = "ticker,post_id,posted_at,title,body,author,views,likes,dislikes\n"
GOOD_POST = "005930,1001,2022-12-28 20:15,좋은 글,,,1,2,3\n"
PRICES = "ticker,date,open,high,low,close,volume\n"
GOOD_PRICE = "005930,2018-04-27,53380,53640,52440,53000,17815650\n"
TOO_LATE = (datetime.now(KST).date() + timedelta(days=2)).isoformat()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "input.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("rows, line, reason", [
    # an unterminated quote used to swallow the following rows into one title, with exit 0
    ('005930,1002,2022-12-29 10:00,"따옴표가 안 닫힘\n005930,1003,2022-12-29 11:00,다음 글\n', 3, "quote"),
    ('005930,1002,2022-12-29 10:00,"인용" 뒤에 글자\n', 3, "quote"),
    ("005930,1002,2022-12-29 10:00,널\x00바이트\n", 3, "NUL"),
    ("005930,1002,2022-12-29 10:00,길다,,,1,2,3,4\n", 3, "expected 4 to 9 fields, got 10"),
    ("005930,1002\n", 3, "expected 4 to 9 fields, got 2"),
    ("005930,99999999999999999999,2022-12-29 10:00,큰 번호\n", 3, "post_id"),
    ("005930,1002,2022-12-29 10:00,큰 조회수,,,3000000000,,\n", 3, "views 3000000000 is out of range"),
    ("005930,1002,2022-12-29 10:00,지수,,,1e20,,\n", 3, "views"),
    (f"005930,1002,{TOO_LATE} 10:00,미래 글\n", 3, "more than a day ahead"),
])
def test_bad_posts_files_are_refused_with_the_line(engine, tmp_path, rows, line, reason):
    path = write(tmp_path, POSTS + GOOD_POST + rows)
    with pytest.raises(InputError, match=reason) as error:
        import_posts(engine, path)
    assert f"{path}:{line}:" in str(error.value)
    assert count(engine, "SELECT count(*) FROM posts") == 0 and count(engine, "SELECT count(*) FROM crawl_runs") == 0
    assert main(["import", "posts", str(path)]) == 2


@pytest.mark.parametrize("row, reason", [
    ("005930,2018-04-30,53000,53900,51800,0,39565391", "above 0"),  # a close of 0 divides labels by zero
    ("005930,2018-04-30,53000,53900,51800,54100,39565391", "close <= high"),  # two ticks (100) above high
    ("005930,2018-04-30,51000,53900,51800,52000,39565391", "low <= open"),
    ("005930,2018-04-30,1e20,1e20,1e20,1e20,39565391", "out of range"),
    ("005930,2018-04-30,53000,53900,51800,52000,99999999999999999999", "volume"),
    ("005930,2099-01-02,53000,53900,51800,52000,39565391", "after today"),
    ("005930,2018-04-30,NaN,53900,51800,52000,39565391", "open"),
])
def test_impossible_prices_are_refused(engine, tmp_path, row, reason):
    path = write(tmp_path, PRICES + GOOD_PRICE + row + "\n")
    with pytest.raises(InputError, match=reason) as error:
        import_prices(engine, path)
    assert f"{path}:3:" in str(error.value)
    assert count(engine, "SELECT count(*) FROM prices") == 0
    assert main(["import", "prices", str(path)]) == 2


def test_the_database_refuses_an_impossible_bar_from_any_writer(engine):
    with pytest.raises(sa.exc.IntegrityError, match="prices_bar_is_sane"), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO prices (ticker, trade_date, open, high, low, close, volume, adjusted, "
                             "source) VALUES ('005930', '2024-01-02', 1, 1, 1, 0, 10, true, 'manual')"))


def test_json_counters_beyond_int32_make_the_page_unparseable():
    raw = {"id": "301090375", "title": "t", "writtenAt": "2025-04-18T14:04:00", "viewCount": 2**31}
    with pytest.raises(ValueError, match="viewCount"):
        board_json.parse_post(raw, "005930")


def test_a_dropped_connection_ends_in_one_line_and_the_report(engine, naver, database_url, capsys, caplog):
    naver.inject("/sise.nhn", "slow", seconds=2)  # the sync is inside its fetch when the server goes

    def terminate_backends():
        admin = sa.create_engine(database_url)
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        admin.dispose()

    timer = threading.Timer(1.0, terminate_backends)
    timer.start()
    try:
        code = main(["prices", "--tickers", "005930", "--workers", "1"])
    finally:
        timer.join()
    out = capsys.readouterr().out
    assert code == 1
    assert "failed" in out and "database connection lost" in out  # the run's table, with the reason
    assert "Traceback" not in caplog.text


def test_after_a_dropped_connection_the_table_shows_the_pages_that_were_committed(engine, naver, database_url,
                                                                                   capsys):
    naver.inject("/front-api/discussion/list", "slow", after=1, seconds=1.5)  # page 2 is in flight when it goes

    def terminate_backends():
        admin = sa.create_engine(database_url)
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        admin.dispose()

    timer = threading.Timer(0.8, terminate_backends)
    timer.start()
    try:
        code = main(["crawl", "--tickers", "005930", "--workers", "1", "--since", "2000-01-01"])
    finally:
        timer.join()
    assert code == 1
    out = capsys.readouterr().out
    row = next(line.split() for line in out.splitlines() if line.startswith("005930"))
    committed = count(engine, "SELECT pages FROM crawl_runs WHERE ticker = '005930'")
    assert committed == 1 and count(engine, "SELECT count(*) FROM posts") == 50
    assert row[1] == "failed" and row[2] == str(committed)  # the pages column: what the database holds
