"""``finsent crawl --comments``: comment threads (CBOX, JSONP) stored once, fetched again only when they grow."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from finsent.cli import main
from finsent.config import load_settings
from finsent.errors import PageParseError
from finsent.ingest.comments_crawl import crawl_comments
from finsent.ingest.crawl import crawl_boards
from finsent.ingest.feeds.cbox import comment_time, unwrap_jsonp
from finsent.ingest.records import KST, kst
from tests.ingest.helpers import count

CBOX = "/commentBox/cbox/web_naver_list_jsonp.json"
COUNTS = "/front-api/discussion/comment/counts"
SAMSUNG = "005930"


def crawl(engine, **kwargs):
    return crawl_comments(load_settings(), engine, [SAMSUNG], days=60, workers=1, **kwargs)[0]


@pytest.fixture
def board(engine, naver):
    crawl_boards(load_settings(), engine, [SAMSUNG], since=date(2000, 1, 1), workers=1)
    return naver


def expected(naver, ticker=SAMSUNG) -> list[tuple]:
    ids = {p.id for p in naver.posts[ticker]}
    return sorted((c.post_id, c.no, c.parent_no, c.level, kst(c.written_at), "" if c.deleted else c.text, c.user,
                   c.likes, c.dislikes, c.deleted) for pid, thread in naver.comments.items() if pid in ids
                  for c in thread)


def stored(engine) -> list[tuple]:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.text(
            "SELECT post_id, comment_no, parent_comment_no, reply_level, written_at, text, author, likes, dislikes, "
            "deleted FROM comments")))


def cbox_requests(naver) -> list[str]:
    return [q["objectId"] for path, q in naver.requests_log if path == CBOX]


def test_every_thread_is_stored_once_under_faults_and_a_rerun_reads_only_the_counts(engine, board):
    board.inject(COUNTS, "status", code=503)
    board.inject(CBOX, "drop")
    board.inject(CBOX, "rate_limit", retry_after=0)
    board.inject(CBOX, "status", times=2, code=502)
    report = crawl(engine)
    assert report.status == "ok" and report.retries == 5
    want = expected(board)
    assert stored(engine) == want and any(row[-1] for row in want) and any(row[2] for row in want)
    assert report.inserted == len(want)
    before = len(cbox_requests(board))
    again = crawl(engine)
    assert (again.inserted, again.updated) == (0, 0) and len(cbox_requests(board)) == before
    # the counts, 20 posts a request, and no CBOX page
    assert (again.details, again.pages) == (-(-len(board.posts[SAMSUNG]) // 20), 0)


def test_only_threads_whose_count_grew_are_fetched_again(engine, board):
    crawl(engine)
    posts = [p for p in board.posts[SAMSUNG] if p.comment_count][:2]
    quiet = next(p for p in board.posts[SAMSUNG] if not p.comment_count and p not in posts)
    for post in posts:
        board.add_comments(post.id, 3)
    board.add_comments(quiet.id, 2)  # a post that had none: its first comments
    old = board.visible_comments(posts[0].id)[0]
    board.delete_comment(posts[0].id, old.no)
    before = len(cbox_requests(board))
    report = crawl(engine)
    assert sorted(cbox_requests(board)[before:]) == sorted(str(p.id) for p in (*posts, quiet))
    assert (report.inserted, report.updated) == (8, 1)
    assert stored(engine) == expected(board)
    assert count(engine, "SELECT text FROM comments WHERE comment_no = :n", n=old.no) == ""


def test_comments_arriving_while_a_thread_is_paged_are_stored_once(engine, board):
    post = next(p for p in board.posts[SAMSUNG] if p.comment_count)
    board.add_comments(post.id, 150)  # two pages of 100
    board.comments_arrive_during_paging(post.id, 5, after_requests=1)  # after its first page
    crawl(engine)
    assert count(engine, "SELECT count(*) - count(DISTINCT comment_no) FROM comments") == 0
    total = len(board.visible_comments(post.id))
    assert count(engine, "SELECT count(*) FROM comments WHERE post_id = :p", p=post.id) == total - 5
    crawl(engine)  # the count grew past what the thread was stored complete up to
    assert stored(engine) == expected(board)


@pytest.mark.parametrize("fault", ["unwrapped", "html", "failure", "malformed", "empty"])
def test_an_answer_that_is_not_the_jsonp_is_quarantined_and_its_thread_left_out(engine, board, settings, fault):
    if fault in ("malformed", "empty"):
        board.inject(CBOX, fault)
    else:
        board.bad_jsonp(fault)
    report = crawl(engine)
    assert report.status == "failed" and "thread(s) left out" in report.error
    assert list(settings.quarantine_dir.glob("naver-cbox_*.raw"))
    first = cbox_requests(board)[0]
    assert count(engine, "SELECT count(*) FROM comments WHERE post_id = :p", p=int(first)) == 0
    assert count(engine, "SELECT count(*) FROM comments") > 0  # the other threads are stored
    assert crawl(engine).status == "ok"
    assert stored(engine) == expected(board)


def test_the_cli_crawls_comments_and_refuses_board_options(engine, board, capsys):
    assert main(["crawl", "--comments", "--days", "60", "--tickers", SAMSUNG]) == 0
    assert "005930  ok" in capsys.readouterr().out
    assert count(engine, "SELECT count(*) FROM comments") == len(expected(board))
    assert main(["crawl", "--comments", "--since", "2026-01-01", "--tickers", SAMSUNG]) == 2
    assert main(["crawl", "--days", "3", "--tickers", SAMSUNG]) == 2


def test_cbox_times_and_jsonp_wrappers():
    seoul = datetime(2024, 1, 2, 9, 10, 11, tzinfo=KST)
    for text in ("2024-01-02T09:10:11+0900", "2024-01-02T09:10:11+09:00", "2024-01-02T00:10:11Z",
                 "2024-01-02 09:10:11", "2024-01-02T09:10:11"):
        assert comment_time(text) == seoul
    assert comment_time(int(seoul.timestamp() * 1000)) == seoul
    for bad in ("2024-01-02", "", None, True, "yesterday 09:10:11"):
        with pytest.raises(ValueError):
            comment_time(bad)
    for wrapped in (b'_callback({"a": 1});', b'/**/ jQuery1234_5({"a": 1})', b'  cb({"a": 1}) ;\n'):
        assert unwrap_jsonp(wrapped, "u") == {"a": 1}
    for bad in (b'{"a": 1}', b"<html></html>", b"", b"_callback([1, 2]);", b'_callback({"a": );'):
        with pytest.raises(PageParseError):
            unwrap_jsonp(bad, "u")


def test_a_comment_that_cannot_be_stored_is_quarantined_and_its_thread_kept(engine, board, settings):
    import dataclasses

    post = next(p for p in board.posts[SAMSUNG] if len(board.visible_comments(p.id)) >= 2)
    with board.lock:
        thread = board.comments[post.id]
        thread[0] = dataclasses.replace(thread[0], text="깨진 \ud83d 문자", deleted=False)
    report = crawl(engine)
    assert report.status == "ok" and report.quarantined == 1
    stored_ids = {row[1] for row in stored(engine) if row[0] == post.id}
    assert thread[0].no not in stored_ids and thread[1].no in stored_ids
    assert list(settings.quarantine_dir.glob("naver-cbox_*.raw"))
