"""``finsent crawl`` (board or news), ``finsent prices``, ``finsent import``: the ingest commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from finsent.cli_args import add_command, date_arg, open_engine, positive_int
from finsent.config import load_settings, parse_ticker_list


def _selected_tickers(args: argparse.Namespace) -> list[str]:
    from finsent.tickers import selected_tickers

    return parse_ticker_list(args.tickers) if args.tickers else selected_tickers(load_settings(), open_engine())


def _report(reports) -> int:
    from finsent.ingest.runs import print_table

    print_table(reports, sys.stdout)
    return 0 if all(r.ok for r in reports) else 1


def cmd_crawl(args: argparse.Namespace) -> int:
    """Walk each ticker's board (or, with --source naver-news, its news headlines) newest to oldest, down
    to its watermark (the newest post or article already stored). A ticker's first run goes back
    FINSENT_BACKFILL_DAYS days. Every page is committed with the watermark: re-run any time,
    interrupted runs resume. News: every article is stored once per ticker, keyed by (office_id,
    article_id) whatever story cluster or page it came in; story_key groups one story's articles.
    Comments (--comments): the threads of the posts of the last --days days whose comment count grew
    since they were last read, each stored whole."""
    if args.comments:
        return _crawl_comments(args)
    if args.days is not None:
        from finsent.errors import ConfigError

        raise ConfigError("--days goes with --comments (the posts whose threads are read)")
    if args.source == "naver-news":
        from finsent.ingest.news_crawl import crawl_news

        return _report(crawl_news(load_settings(), open_engine(), _selected_tickers(args), since=args.since,
                                  max_pages=args.max_pages, ignore_robots=args.ignore_robots, workers=args.workers))
    from finsent.ingest.crawl import crawl_boards

    if args.plan:
        return _print_plan(_selected_tickers(args))
    reports = crawl_boards(load_settings(), open_engine(), _selected_tickers(args), source=args.source,
                           since=args.since, max_pages=args.max_pages, ignore_robots=args.ignore_robots,
                           workers=args.workers)
    return _report(reports)


def _crawl_comments(args: argparse.Namespace) -> int:
    from finsent.errors import ConfigError
    from finsent.ingest.comments_crawl import crawl_comments

    if args.plan or args.since or args.max_pages or args.source != "naver-mobile":
        raise ConfigError("--comments takes --days, --tickers, --workers and --ignore-robots only")
    return _report(crawl_comments(load_settings(), open_engine(), _selected_tickers(args), days=args.days,
                                  ignore_robots=args.ignore_robots, workers=args.workers))


def _print_plan(tickers: list[str]) -> int:
    from finsent.db import raw_connection
    from finsent.ingest.crawl_plan import build_plan, format_plan

    with raw_connection(open_engine()) as raw, raw.cursor() as cur:
        plan = build_plan(load_settings(), cur, len(tickers))
    sys.stdout.write(format_plan(plan) + "\n")
    return 0


def cmd_prices(args: argparse.Namespace) -> int:
    """First run per ticker: the whole history. Later runs: only sessions after the last stored one.
    Trading-halt rows (volume 0) are dropped."""
    from finsent.ingest.prices import sync_prices

    reports = sync_prices(load_settings(), open_engine(), _selected_tickers(args), source=args.source,
                          since=args.since, ignore_robots=args.ignore_robots, workers=args.workers)
    return _report(reports)


def cmd_import_posts(args: argparse.Namespace) -> int:
    """Columns: ticker,post_id,posted_at,title[,body,author,views,likes,dislikes]; posted_at in KST
    as YYYY-MM-DD HH:MM[:SS]. UTF-8. Posts already stored are kept."""
    from finsent.ingest.importer import import_posts

    return _report([import_posts(open_engine(), args.file)])


def cmd_import_news(args: argparse.Namespace) -> int:
    """Columns: ticker,office_id,article_id,published_at,title[,summary,office_name,story_key];
    published_at in KST as YYYY-MM-DD HH:MM[:SS]; office_id and article_id digits (leading zeros kept);
    story_key (OFFICE/ARTICLE of any article of the story; stored as the story's smallest) defaults to the
    article's own (its own story). UTF-8. Articles already stored
    are kept."""
    from finsent.ingest.importer import import_news

    return _report([import_news(open_engine(), args.file)])


def cmd_import_prices(args: argparse.Namespace) -> int:
    """Columns: ticker,date,open,high,low,close,volume; date as YYYY-MM-DD. Rows with volume 0 (halts) are
    dropped; stored sessions that differ are overwritten. An open or close at most one KRX tick outside
    low..high is a rounding slip: high/low are widened (counted in the report). A file that changes a
    ticker's stored bars is its history over the file's dates: stored sessions there that the file lacks
    are deleted with their labels."""
    from finsent.ingest.importer import import_prices

    return _report([import_prices(open_engine(), args.file, adjusted=not args.unadjusted)])


def _add_ingest_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tickers", help="comma-separated codes (default: FINSENT_TICKERS; all, or unset with an "
                             "imported universe: today's members; else the 20 defaults)")
    parser.add_argument("--ignore-robots", action="store_true",
                        help="do not obey robots.txt (logged loudly; only where you are entitled to)")
    parser.add_argument("--workers", type=positive_int, default=2,
                        help="tickers fetched in parallel; the per-host delay is shared by all (default 2)")


def register(commands) -> None:
    crawl = add_command(commands, "crawl", cmd_crawl,
                        help="fetch new discussion-board posts into `posts` (or news headlines into `news`)")
    _add_ingest_options(crawl)
    crawl.add_argument("--since", type=date_arg, metavar="YYYY-MM-DD",
                       help="backfill: walk back to this date (KST) regardless of the watermark")
    crawl.add_argument("--source", choices=("naver-mobile", "naver-html", "naver-news"), default="naver-mobile",
                       help="naver-mobile: the live JSON board API (default); naver-html: the legacy HTML board; "
                            "naver-news: the stock's news headlines (FINSENT_NAVER_NEWS_URL) into `news`")
    crawl.add_argument("--max-pages", type=positive_int, metavar="N",
                       help="stop after N pages per ticker; the next run resumes where this one stopped")
    crawl.add_argument("--comments", action="store_true",
                       help="fetch the comment threads (CBOX) of recent posts into `comments`: a post is read again "
                            "only when its comment count grew (FINSENT_NAVER_COMMENTS_URL)")
    crawl.add_argument("--days", type=positive_int, metavar="N",
                       help="with --comments: the posts of the last N days (default 3)")
    crawl.add_argument("--plan", action="store_true",
                       help="fetch nothing: print how long the day's crawl of these tickers takes at "
                            "FINSENT_CRAWL_DELAY_S per host (requests per board measured from the last week's runs) "
                            "against a 2-hour window")

    prices = add_command(commands, "prices", cmd_prices, help="fetch daily prices into `prices`")
    _add_ingest_options(prices)
    prices.add_argument("--since", type=date_arg, metavar="YYYY-MM-DD",
                        help="re-fetch from this date and overwrite what changed (after a split)")
    prices.add_argument("--source", choices=("fchart", "sisejson", "sise-day"), default="fchart",
                        help="fchart: split-adjusted XML (default); sisejson: adjusted; "
                             "sise-day: legacy HTML, NOT adjusted (stored with adjusted=false)")

    imports = commands.add_parser("import", help="import CSV archives (all or nothing)",
                                  description="Import a CSV file; one bad row rejects the whole file.")
    import_commands = imports.add_subparsers(dest="import_command", required=True, metavar="KIND")
    posts = add_command(import_commands, "posts", cmd_import_posts,
                        help="ticker,post_id,posted_at,title[,body,author,views,likes,dislikes]")
    posts.add_argument("file", type=Path, help="the CSV file, or - for standard input (read once)")
    news = add_command(import_commands, "news", cmd_import_news,
                       help="ticker,office_id,article_id,published_at,title[,summary,office_name,story_key]")
    news.add_argument("file", type=Path, help="the CSV file, or - for standard input (read once)")
    prices_import = add_command(import_commands, "prices", cmd_import_prices,
                                help="ticker,date,open,high,low,close,volume")
    prices_import.add_argument("file", type=Path, help="the CSV file, or - for standard input (read once)")
    prices_import.add_argument("--unadjusted", action="store_true",
                               help="the file's prices are not split-adjusted (stored adjusted=false)")
