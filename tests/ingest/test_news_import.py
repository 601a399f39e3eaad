"""``finsent import news``: as strict as the posts import (all or nothing, exit 2 naming file and line)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from finsent.cli import main
from finsent.errors import InputError
from finsent.ingest.importer import import_news
from finsent.ingest.records import KST, NewsRow
from finsent.ingest.store import insert_news
from tests.ingest.helpers import count

GOOD_NEWS = """ticker,office_id,article_id,published_at,title,summary,office_name,story_key
005930,015,0005012345,2022-12-28 20:15,"삼성전자, ""신고가"" 경신","요약
두 줄",한국경제,
005930,009,0000000007,2022-12-28 20:17:30,"삼성전자, 신고가 경신…",,매일경제,015/0005012345
000660,001,0000000100,2022-12-29 09:00,하이닉스 수주,,,
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "news.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_news_import_round_trips_and_reimport_adds_nothing(engine, tmp_path):
    path = write(tmp_path, GOOD_NEWS)
    report = import_news(engine, path)
    assert (report.inserted, report.duplicates) == (3, 0)
    assert count(engine, "SELECT count(*) FROM news WHERE source = 'csv'") == 3
    assert count(engine, "SELECT count(*) FROM news WHERE office_id = '009' AND article_id = '0000000007' AND "
                         "published_at = :t", t=datetime(2022, 12, 28, 20, 17, 30, tzinfo=KST)) == 1
    # one story (the file says so), keyed by its smallest OFFICE/ARTICLE
    assert count(engine, "SELECT count(*) FROM news WHERE story_key = '009/0000000007'") == 2
    assert count(engine, "SELECT count(*) FROM news WHERE story_key = office_id || '/' || article_id") == 2
    assert count(engine, "SELECT count(*) FROM news WHERE summary = :s", s="요약\n두 줄") == 1
    again = import_news(engine, path)
    assert (again.inserted, again.duplicates) == (0, 3)
    assert count(engine, "SELECT count(*) FROM crawl_runs WHERE command = 'import-news'") == 2


@pytest.mark.parametrize("bad_line, reason", [
    ("005930,015,1,2022-12-30 25:00,시간 오류", "published_at"),
    ("005930,01a,1,2022-12-30 10:00,언론사 오류", "office_id"),
    ("005930,015,12345678901234567890123,2022-12-30 10:00,기사 번호 오류", "article_id"),
    ("999999,015,1,2022-12-30 10:00,모르는 종목", "unknown ticker"),
    ("005930,015,1,2022-12-30 10:00,", "title is empty"),
    ("005930,015,0005012345,2022-12-30 10:00,중복", "duplicate of line 2"),
    ("005930,015,1,1980-01-01 10:00,옛날", "before"),
    ("005930,015,1,2099-01-01 10:00,미래", "ahead of now"),
    ("005930,015,1,2022-12-30 10:00,묶음,,,story-7", "story_key"),
    ("005930,015", "expected"),
])
def test_a_bad_row_rejects_the_whole_file(engine, tmp_path, bad_line, reason):
    path = write(tmp_path, GOOD_NEWS + bad_line + "\n")
    with pytest.raises(InputError) as error:
        import_news(engine, path)
    assert f"{path}:6:" in str(error.value) and reason in str(error.value)
    assert count(engine, "SELECT count(*) FROM news") == 0
    assert count(engine, "SELECT count(*) FROM crawl_runs") == 0


def test_cli_exit_codes_and_header_check(engine, tmp_path, caplog):
    assert main(["import", "news", str(write(tmp_path, GOOD_NEWS))]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("ticker,office,article_id,published_at,title\n005930,015,1,2022-12-30 10:00,x\n", encoding="utf-8")
    assert main(["import", "news", str(bad)]) == 2
    assert "missing: office_id" in caplog.text and "unknown: office" in caplog.text
    assert count(engine, "SELECT count(*) FROM news") == 3


def test_stories_merge_when_a_later_batch_joins_them(engine):
    def row(office, article, story):
        return NewsRow("005930", office, article, datetime(2022, 12, 28, 9, tzinfo=KST), "t", None, None, story, "csv")

    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            assert insert_news(cur, [row("015", "2", "015/2"), row("015", "3", "015/2")]) == 2
            assert insert_news(cur, [row("009", "9", "009/9")]) == 1
            # a cluster seen later carries 015/3 and 009/9: the two stories are one, keyed by the smaller
            assert insert_news(cur, [row("015", "3", "015/3"), row("009", "9", "015/3"), row("001", "5", "015/3")]) == 1
            cur.execute("SELECT office_id || '/' || article_id, story_key FROM news ORDER BY 1")
            assert dict(cur.fetchall()) == {"001/5": "001/5", "009/9": "001/5", "015/2": "001/5", "015/3": "001/5"}
        raw.commit()
    finally:
        raw.close()
