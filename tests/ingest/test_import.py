"""``finsent import posts|prices``: all or nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from finsent.cli import main
from finsent.errors import InputError
from finsent.ingest.importer import import_posts, import_prices
from finsent.ingest.records import KST
from tests.ingest.helpers import count

GOOD_POSTS = """ticker,post_id,posted_at,title,body,author,views,likes,dislikes
005930,1001,2022-12-28 20:15,"내일은 오르겠죠, 제발","본문
두 줄",abcd****,12,3,1
005930,1002,2022-12-29 09:00:30,하락 시작,,,,,
000660,1003,2022-12-29 15:31,"따옴표 ""인용"" 테스트",,efgh****,0,0,0
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_posts_import_round_trips_and_reimport_adds_nothing(engine, tmp_path):
    path = write(tmp_path, "posts.csv", GOOD_POSTS)
    report = import_posts(engine, path)
    assert (report.inserted, report.duplicates) == (3, 0)
    assert count(engine, "SELECT count(*) FROM posts WHERE source = 'csv'") == 3
    assert count(engine, "SELECT count(*) FROM posts WHERE body = :b", b="본문\n두 줄") == 1
    assert count(engine, "SELECT count(*) FROM posts WHERE posted_at = :t",
                 t=datetime(2022, 12, 29, 9, 0, 30, tzinfo=KST)) == 1
    again = import_posts(engine, path)
    assert (again.inserted, again.duplicates) == (0, 3)
    assert count(engine, "SELECT count(*) FROM crawl_runs WHERE command = 'import-posts'") == 2


@pytest.mark.parametrize("bad_line, reason", [
    ("005930,1004,2022-12-30 25:00,시간 오류", "posted_at"),
    ("005930,abc,2022-12-30 10:00,아이디 오류", "post_id"),
    ("999999,1004,2022-12-30 10:00,모르는 종목", "unknown ticker"),
    ("005930,1004,2022-12-30 10:00,", "title is empty"),
    ("005930,1001,2022-12-30 10:00,중복", "duplicate of line 2"),
    ("005930,1004,2022-12-30 10:00,조회수,,,-5,,", "views"),
    ("005930,1004", "expected"),
])
def test_a_bad_row_rejects_the_whole_file(engine, tmp_path, bad_line, reason):
    path = write(tmp_path, "posts.csv", GOOD_POSTS + bad_line + "\n")
    with pytest.raises(InputError) as error:
        import_posts(engine, path)
    assert f"{path}:6:" in str(error.value) and reason in str(error.value)
    assert count(engine, "SELECT count(*) FROM posts") == 0
    assert count(engine, "SELECT count(*) FROM crawl_runs") == 0


def test_bad_header_and_missing_file_exit_2(engine, tmp_path, caplog):
    path = write(tmp_path, "posts.csv", "ticker,post_id,when,title\n005930,1,2022-01-01 10:00,x\n")
    assert main(["import", "posts", str(path)]) == 2
    assert "missing: posted_at" in caplog.text and "unknown: when" in caplog.text
    assert main(["import", "posts", str(tmp_path / "nope.csv")]) == 2
    assert count(engine, "SELECT count(*) FROM posts") == 0


def test_prices_import_drops_halts_and_rejects_bad_rows(engine, tmp_path):
    good = ("ticker,date,open,high,low,close,volume\n"
            "005930,2018-04-27,53380,53640,52440,53000,17815650\n"
            "005930,2018-04-30,0,0,0,53000,0\n"
            "005930,2018-05-04,53000,53900,51800,51900,39565391\n")
    report = import_prices(engine, write(tmp_path, "prices.csv", good))
    assert report.inserted == 2
    assert count(engine, "SELECT count(*) FROM prices WHERE adjusted AND source = 'csv'") == 2
    bad = good + "005930,2018-05-08,52600,53200,53900,52600,23104720\n"  # low above high
    with pytest.raises(InputError, match=r"prices.csv:5: expected low <= open, close <= high"):
        import_prices(engine, write(tmp_path, "prices.csv", bad.replace("53000,53900", "53000,53901")))
    assert count(engine, "SELECT count(*) FROM prices") == 2
