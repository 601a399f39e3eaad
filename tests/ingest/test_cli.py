"""The ingest room's commands (finsent.ingest.cli): crawls and imports run their own functions."""

from __future__ import annotations

from finsent.cli import build_parser
from finsent.ingest.cli import cmd_crawl, cmd_import_news, cmd_import_posts, cmd_prices


def test_each_command_runs_its_function():
    parser = build_parser()
    crawl = parser.parse_args(["crawl"])
    assert crawl.func is cmd_crawl and crawl.source == "naver-mobile" and not crawl.comments  # the board's feed
    assert parser.parse_args(["prices"]).func is cmd_prices
    assert parser.parse_args(["import", "posts", "p.csv"]).func is cmd_import_posts
    assert parser.parse_args(["import", "news", "n.csv"]).func is cmd_import_news
