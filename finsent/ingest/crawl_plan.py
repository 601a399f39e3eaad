"""``finsent crawl --plan``: how long the day's crawl takes for the configured universe, against its window.

Requests to one host wait for that host's clock (``FINSENT_CRAWL_DELAY_S`` apart, across every worker:
:mod:`finsent.ingest.host_clock`), so a host's share of the day is its requests times the delay,
whatever the pool size: more ``naver`` pool slots hide latency and task start-up, they never add
throughput. Requests per ticker come from the last week's runs in ``crawl_runs`` (pages per
ticker run, a ticker's first run left out: that one is its backfill); without any, a board costs one
page (a daily crawl stops at its watermark, on the first page on a quiet day) and prices one request.
robots.txt: one request per host and hour (a copy shared on the data folder by every task).
News is measured like the boards, from its own runs (``crawl-news``); without any, two list pages a ticker
(a quiet day reads one page past its watermark). A board's detail requests (bodies the list cut) count
with its pages. Comments (``crawl-comments``) cost two steps: the comment counts of the last
``DEFAULT_COMMENT_DAYS`` days' posts, 20 posts a request, on the board host, and the CBOX pages of the
threads that grew, on the comment host; without runs both are estimated from the posts table (posts
a ticker writes in that window, the share with comments) or, with no posts, assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from finsent.config import Settings
from finsent.ingest.comments_crawl import COMMENTS_COMMAND, DEFAULT_COMMENT_DAYS
from finsent.ingest.news_crawl import NEWS_COMMAND

WINDOW_S = 2 * 3600  # the day's crawl must be done two hours after it starts (16:30 KST: by 18:30)
MEASURED_DAYS = 7

# Requests per ticker run of one command over the last days (list pages, or another counter), a
# ticker's first run (its backfill) left out.
_MEASURED = """
SELECT avg({requests})::float8, percentile_cont(0.9) WITHIN GROUP (ORDER BY {requests}), count(*)
FROM crawl_runs r
WHERE r.command = %(command)s AND r.status IN ('ok', 'rewritten') AND r.ticker IS NOT NULL
  AND r.started_at > now() - make_interval(days => %(days)s)
  AND EXISTS (SELECT 1 FROM crawl_runs e WHERE e.command = r.command AND e.ticker = r.ticker
              AND e.status IN ('ok', 'rewritten') AND e.started_at < r.started_at)
"""


@dataclass(frozen=True)
class Measured:
    mean_pages: float
    p90_pages: float
    runs: int


# what a run of each command asks of its host: a board crawl's details go to the board host with its pages
_REQUESTS = {"crawl": "r.pages + r.details", "comment-counts": "r.details"}


def measured_pages(cursor, command: str, days: int = MEASURED_DAYS, requests: str | None = None) -> Measured | None:
    """Requests per ticker run of ``command`` ('crawl', 'crawl-news', 'prices', 'crawl-comments') in the
    last ``days`` (``requests``: the SQL of what counts, default its list pages and, for a board crawl,
    its detail requests); None without runs."""
    counted = requests or _REQUESTS.get(command, "r.pages")
    cursor.execute(_MEASURED.format(requests=counted), {"command": command, "days": days})
    mean, p90, runs = cursor.fetchone()
    return Measured(mean, p90, runs) if runs else None


@dataclass(frozen=True)
class PlanStep:
    step: str
    host: str
    per_ticker: float  # requests per ticker
    fixed: int  # requests once per run (robots.txt)
    basis: str


@dataclass(frozen=True)
class CrawlPlan:
    tickers: int
    delay_s: float
    slots: int
    steps: list[PlanStep]
    window_s: float = WINDOW_S

    def requests(self, step: PlanStep) -> float:
        return step.per_ticker * self.tickers + step.fixed

    def seconds(self, step: PlanStep) -> float:
        return self.requests(step) * self.delay_s

    @property
    def total_s(self) -> float:
        """The steps one after another (boards, then prices in the DAG; news counted in series too)."""
        return sum(self.seconds(step) for step in self.steps)

    @property
    def fits(self) -> bool:
        return self.total_s <= self.window_s


def _basis(measured: Measured | None, unit: str, assumed: str, default: float = 1.0) -> tuple[float, str]:
    if measured is None:
        return default, f"assumed: {assumed} (no runs in {MEASURED_DAYS} days)"
    return measured.mean_pages, (f"measured: {measured.mean_pages:.2f} {unit} on average, p90 "
                                 f"{measured.p90_pages:.0f}, over {measured.runs} runs in {MEASURED_DAYS} days")


# Posts a ticker writes in the comment window and the share of them with comments (all tickers' posts
# of the last DEFAULT_COMMENT_DAYS days), for the comment steps before any comment crawl ran.
_POSTS_IN_WINDOW = """
SELECT count(*)::float8 / greatest(1, count(DISTINCT ticker)), avg((coalesce(comment_count, 0) > 0)::int)::float8
FROM posts WHERE posted_at > now() - make_interval(days => %(days)s)
"""
ASSUMED_POSTS_PER_DAY = 100  # an average board's day (no posts stored to measure it from)
# 34%: the share of the 2,000 real 005930 list rows of 2025-04-17/18 whose title shows a comment count
ASSUMED_COMMENTED_SHARE = 0.34


def _comment_steps(settings: Settings, cursor, robots: int) -> list[PlanStep]:
    cursor.execute(_POSTS_IN_WINDOW, {"days": DEFAULT_COMMENT_DAYS})
    posts, share = cursor.fetchone()
    if posts:
        seen = f"{posts:.0f} posts/ticker in {DEFAULT_COMMENT_DAYS} days, {share:.0%} with comments (posts table)"
    else:
        posts, share = ASSUMED_POSTS_PER_DAY * DEFAULT_COMMENT_DAYS, ASSUMED_COMMENTED_SHARE
        seen = f"{ASSUMED_POSTS_PER_DAY} posts/ticker a day, {share:.0%} with comments"
    counts_default = -(-posts // 20)
    # a day's new posts with comments, and as many older threads that grew: one CBOX page each
    pages_default = 2 * share * posts / DEFAULT_COMMENT_DAYS
    counts, counts_basis = _basis(measured_pages(cursor, COMMENTS_COMMAND, requests="r.details"),
                                  "count request(s)/ticker", f"{seen}: 20 a request", default=counts_default)
    pages, pages_basis = _basis(measured_pages(cursor, COMMENTS_COMMAND), "CBOX page(s)/ticker",
                                f"{seen}: a page per grown thread, a day's commented posts twice",
                                default=pages_default)
    note = " + robots.txt once" if robots else ""
    return [PlanStep("counts", urlsplit(settings.naver_board_url).netloc, counts, 0, counts_basis),
            PlanStep("comments", urlsplit(settings.naver_comments_url).netloc, pages, robots, pages_basis + note)]


def build_plan(settings: Settings, cursor, tickers: int) -> CrawlPlan:
    robots = 0 if settings.ignore_robots else 1
    board_pages, board_basis = _basis(measured_pages(cursor, "crawl"), "page(s)/board", "1 page/board (a quiet day)")
    price_pages, price_basis = _basis(measured_pages(cursor, "prices"), "request(s)/ticker", "1 request/ticker")
    # a quiet news day reads one page past the watermark (a cluster may re-carry a newer article)
    news_pages, news_basis = _basis(measured_pages(cursor, NEWS_COMMAND), "page(s)/ticker",
                                    "2 pages/ticker (a quiet day: one past the watermark)", default=2.0)
    robots_note = " + robots.txt once" if robots else ""
    steps = [
        PlanStep("boards", urlsplit(settings.naver_board_url).netloc, board_pages, robots, board_basis + robots_note),
        PlanStep("prices", urlsplit(settings.naver_price_url).netloc, price_pages, robots, price_basis + robots_note),
        PlanStep("news", urlsplit(settings.naver_news_url).netloc, news_pages, robots, news_basis + robots_note),
        *_comment_steps(settings, cursor, robots),
    ]
    return CrawlPlan(tickers, settings.crawl_delay_s, settings.naver_pool_slots, steps)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def format_plan(plan: CrawlPlan) -> str:
    lines = [f"daily crawl plan: {plan.tickers} tickers, FINSENT_CRAWL_DELAY_S={plan.delay_s:g} s between two "
             f"requests to one host, FINSENT_NAVER_POOL_SLOTS={plan.slots}",
             f"{'step':8s} {'host':28s} {'req/ticker':>10s} {'requests':>9s} {'time':>10s}  basis"]
    for step in plan.steps:
        lines.append(f"{step.step:8s} {step.host[:28]:28s} {step.per_ticker:10.2f} {plan.requests(step):9.0f} "
                     f"{_duration(plan.seconds(step)):>10s}  {step.basis}")
    share = plan.total_s / plan.window_s
    verdict = "fits" if plan.fits else ("DOES NOT FIT: crawl fewer tickers, start earlier, or read the comments of "
                                        "fewer days (crawl --comments --days)")
    lines.append(f"{'total, one step after another':58s} {_duration(plan.total_s):>10s}  "
                 f"{share:.0%} of a {_duration(plan.window_s)} window: {verdict}")
    hosts: dict[str, float] = {}
    for step in plan.steps:
        hosts[step.host] = hosts.get(step.host, 0.0) + plan.seconds(step)
    busiest = max(hosts, key=lambda h: hosts[h])
    lines.append(f"hosts keep separate clocks (the busiest, {busiest}, needs {_duration(hosts[busiest])}); the "
                 f"{plan.slots} pool slot(s) overlap latency, task start-up and other hosts, not requests to one host")
    return "\n".join(lines)
