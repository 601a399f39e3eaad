"""The import input is read once (stdin, pipes, FIFOs, files replaced mid-import) and strictly."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta

import pytest

import finsent.ingest.importer as importer
from finsent.cli import main
from finsent.errors import InputError
from finsent.ingest.importer import import_posts, import_prices
from finsent.ingest.records import KST
from tests.ingest.helpers import count

POSTS = "ticker,post_id,posted_at,title,body,author,views,likes,dislikes\n"
GOOD = POSTS + "".join(f"005930,{1000 + i},2022-12-28 20:{i:02d},글 {i},,,1,2,3\n" for i in range(3))
PRICES = "ticker,date,open,high,low,close,volume\n"
GOOD_PRICE = "005930,2018-04-27,53380,53640,52440,53000,17815650\n"
CLI = [sys.executable, "-m", "finsent.cli"]


def cli(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=dict(os.environ), check=False, capture_output=True, timeout=60,
                          **kwargs)


def titles(engine) -> list[str]:
    from tests.data.board import query

    return [r[0] for r in query(engine, "SELECT title FROM posts ORDER BY post_id")]


@pytest.mark.parametrize("argument", ["-", "/dev/stdin"])
def test_standard_input_and_a_pipe_are_read_once(engine, argument):
    result = cli(["import", "posts", argument], input=GOOD.encode("utf-8"))
    assert result.returncode == 0, result.stderr.decode()
    assert titles(engine) == ["글 0", "글 1", "글 2"]
    assert b"stdin" in result.stdout or argument != "-"


def test_a_named_pipe_is_read_once_and_does_not_hang(engine, tmp_path):
    fifo = tmp_path / "posts.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("wb") as handle:  # blocks until the import opens the pipe
            handle.write(GOOD.encode("utf-8"))

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    result = cli(["import", "posts", str(fifo)])
    writer.join(timeout=5)
    assert result.returncode == 0, result.stderr.decode()
    assert titles(engine) == ["글 0", "글 1", "글 2"]


@pytest.mark.parametrize("replacement", ["QQQQQQ\n" * 5, POSTS + "005930,9999,2022-12-29 10:00,,,,,,\n"])
@pytest.mark.parametrize("how", ["in place", "renamed over"])
def test_a_file_replaced_during_the_import_is_not_what_gets_written(engine, tmp_path, monkeypatch, replacement,
                                                                    how):
    path = tmp_path / "posts.csv"
    path.write_text(GOOD, encoding="utf-8")
    real_transaction = importer.raw_transaction

    def replace_then_write(engine_):  # the file changes after validation, before the write
        if how == "in place":
            path.write_text(replacement, encoding="utf-8")
        else:
            (tmp_path / "new.csv").write_text(replacement, encoding="utf-8")
            os.replace(tmp_path / "new.csv", path)
        return real_transaction(engine_)

    monkeypatch.setattr(importer, "raw_transaction", replace_then_write)
    report = import_posts(engine, path)
    assert report.inserted == 3 and titles(engine) == ["글 0", "글 1", "글 2"]  # the validated copy


def test_an_invalid_utf8_byte_is_reported_on_its_own_line(engine, tmp_path):
    rows = [f"005930,{i},2022-12-28 20:15,제목 {i} " + "가" * 30 + "\n" for i in range(1, 4001)]
    data = (POSTS + "".join(rows)).encode("utf-8").split(b"\n")
    data[4000] = data[4000].replace("제목".encode(), b"\xff\xfe", 1)  # the row on line 4001
    path = tmp_path / "posts.csv"
    path.write_bytes(b"\n".join(data))
    with pytest.raises(InputError, match=rf"{path}:4001: not UTF-8 \(byte 0xff"):
        import_posts(engine, path)
    path.write_bytes((POSTS + "005930,1,2022-12-28 20:15,").encode() + b"\xc3(\n")
    with pytest.raises(InputError, match=rf"{path}:2: not UTF-8"):
        import_posts(engine, path)
    assert count(engine, "SELECT count(*) FROM posts") == 0


def test_a_field_too_long_is_called_that(engine, tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text(GOOD + "005930,2000,2022-12-29 10:00," + "x" * 131_072 + "1\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"{path}:5: field too long") as error:
        import_posts(engine, path)
    assert "quote" not in str(error.value)
    assert count(engine, "SELECT count(*) FROM posts") == 0


def _beyond_a_day() -> str:
    now = datetime.now(KST)
    late = max(datetime.combine(now.date() + timedelta(days=1), datetime.min.time().replace(hour=23, minute=59),
                                tzinfo=KST), now + timedelta(days=1, minutes=2))
    return late.strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("text, line, reason", [
    ("ticker,post_id,posted_at,title,title\n005930,1,2022-12-28 20:15,a,b\n", 1, "more than once: title"),
    (POSTS + "005930,1,2022-12-28 20:15,제목,,,1_000,,\n", 2, "views '1_000' is not a non-negative integer"),
    (POSTS + "005930,1,0001-01-01 10:00,제목\n", 2, "before 1999-06-02"),
    (POSTS + f"005930,1,{_beyond_a_day()},제목\n", 2, "more than a day ahead"),
])
def test_odd_posts_values_are_refused(engine, tmp_path, text, line, reason):
    path = tmp_path / "posts.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=reason) as error:
        import_posts(engine, path)
    assert f"{path}:{line}:" in str(error.value)
    assert main(["import", "posts", str(path)]) == 2
    assert count(engine, "SELECT count(*) FROM posts") == 0


TOMORROW = (datetime.now(KST).date() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize("row, reason", [
    ("005930,2018-04-30,1_000,53900,51800,52000,39565391", "open '1_000' is not a plain"),
    ("005930,2018-04-30, 53000,53900,51800,52000,39565391", None),  # surrounding spaces are stripped: fine
    ("005930,0001-04-30,53000,53900,51800,52000,39565391", "before 1956-03-03"),
    (f"005930,{TOMORROW},53000,53900,51800,52000,39565391", "after today"),
    ("005930,2018-04-30,+53000,53900,51800,52000,39565391", "open '\\+53000' is not a plain"),
])
def test_odd_price_values_are_refused(engine, tmp_path, row, reason):
    path = tmp_path / "prices.csv"
    path.write_text(PRICES + GOOD_PRICE + row + "\n", encoding="utf-8")
    if reason is None:
        assert import_prices(engine, path).inserted == 2
        return
    with pytest.raises(InputError, match=reason) as error:
        import_prices(engine, path)
    assert f"{path}:3:" in str(error.value)
    assert count(engine, "SELECT count(*) FROM prices") == 0
