"""The loopback Naver's per-stock news (SOURCES.md section 3b): story clusters, paged by number.

Its own reading of the contract, with what makes a news crawl hard: pages that shift while a
client walks them (new stories arrive on top), the same article in two clusters, wire stories
re-carried by several offices, market summaries tagged to every stock (one article, many
tickers), HTML entities in titles, minute times in KST (some just after midnight), and answers
without the optional fields.
"""

from __future__ import annotations

import bisect
import html
import json
import random
import re
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any

NEWS_PREFIX = "/api/news/stock/"
NEWS_CONTENT_TYPE = "application/json;charset=UTF-8"
NEWS_PAGE_SIZE = 20
_CODE = re.compile(r"[0-9]{6}")
OFFICES = (("015", "한국경제"), ("009", "매일경제"), ("001", "연합뉴스"), ("014", "파이낸셜뉴스"),
           ("008", "머니투데이"), ("018", "이데일리"), ("277", "아시아경제"), ("421", "뉴스1"))
_HEADLINES = (
    '[특징주] {name}, "신고가" 경신…외인 매수세',
    "{name} 3분기 영업익 전년比 12% 증가",
    "[속보] {name}, 자사주 소각 결정",
    "{name} R&D 투자 확대 & 배당 유지",
    "'이번엔 다르다'…{name} 신규 수주 기대",
    "{name} <해외 공장> 증설 착공",
    "{name}, 공급 계약 체결 공시",
    "증권가 \"{name} 목표가 하향\"",
)
_MARKET = ("[fn마감시황] 코스피, 외인 매도에 {n}선 후퇴", "코스피200 지수 정기변경…편입·편출 종목은",
           "[마감시황] 코스피·코스닥 동반 {way}")
_SUMMARY = ('{name}의 실적 개선 기대가 커지고 있다. 증권가는 "하반기 회복"을 전망했다.',
            "시장에서는 {name} 주가 흐름에 주목하고 있다 & 거래량도 늘었다.", None)
_SIGNAL_UP = ("수주 기대에 강세 전망", "실적 서프라이즈 예상", "목표주가 상향")
_SIGNAL_DOWN = ("실적 부진 우려에 약세", "대규모 매도 물량 부담", "목표주가 하향")


@dataclass(frozen=True)
class Article:
    office_id: str
    article_id: str
    office_name: str
    published_at: datetime  # KST, naive, minute resolution
    title: str  # plain text (served with entities)
    summary: str | None  # plain text; None: the key is left out


def _escape(text: str) -> str:
    """Entities as Naver writes them, &apos; included (html.escape writes &#x27;)."""
    return html.escape(text, quote=True).replace("&#x27;", "&apos;")


def is_bare(a: Article) -> bool:
    """About one article in ten is served with only the required fields."""
    return a.article_id.endswith("7")


def article_json(a: Article, *, bare: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"officeId": a.office_id, "articleId": a.article_id,
                           "datetime": a.published_at.strftime("%Y%m%d%H%M"), "title": _escape(a.title)}
    if bare:  # only the required fields: a client must not depend on the optional ones
        return out
    out.update(id=f"{a.office_id}{a.article_id}", officeName=a.office_name, titleFull=_escape(a.title),
               mobileNewsUrl=f"https://n.news.naver.com/mnews/article/{a.office_id}/{a.article_id}",
               type="1", photoType="0")
    if a.summary is not None:
        out["body"] = _escape(a.summary)
    return out


class NewsDesk:
    """Mixin of FakeNaver: makes, serves and changes its news stories."""

    news: dict[str, list[list[Article]]]  # ticker -> clusters (one story each: items[0] the representative)

    def _generate_news(self, stories_per_ticker: int) -> None:
        self._news_rng = random.Random(self.seed + 20)  # type: ignore[attr-defined]
        self._article_seq = 5_000_000
        self._news_requests = 0
        self._news_arrivals: list[tuple[str, int, int]] = []
        self.market_articles: set[Article] = set()  # tagged to every ticker
        self.news = {t: [] for t in self.tickers}  # type: ignore[attr-defined]
        span = self.post_spacing * self.posts_per_ticker  # type: ignore[attr-defined]
        spacing = span / max(1, stories_per_ticker)
        start: datetime = self.first_post_at  # type: ignore[attr-defined]
        for i in range(stories_per_ticker):
            when = (start + spacing * i).replace(second=0, microsecond=0)
            if i % 7 == 3:
                when = when.replace(hour=0, minute=5 + i % 50)  # just after midnight KST: the UTC day before
            if i % 10 == 9:
                self._market_story(when)
                continue
            for ticker in self.news:
                self.news[ticker].append(self._story(ticker, when + timedelta(minutes=self._news_rng.randint(0, 9))))
        for clusters in self.news.values():
            clusters.sort(key=lambda c: c[0].published_at)
            self._cross_link(clusters)

    def _article(self, when: datetime, title: str, summary: str | None, office: tuple[str, str]) -> Article:
        self._article_seq += self._news_rng.randint(1, 50)
        return Article(office[0], f"{self._article_seq:010d}", office[1], when, title, summary)

    def _story(self, ticker: str, when: datetime) -> list[Article]:
        rng = self._news_rng
        name = self.tickers[ticker]  # type: ignore[attr-defined]
        title = rng.choice(_HEADLINES).format(name=name)
        summary = rng.choice(_SUMMARY)
        offices = rng.sample(OFFICES, k=rng.choice((1, 1, 2, 3, 4)))
        items = []
        for k, office in enumerate(offices):  # re-carried within minutes, sometimes cut with "…"
            carried = title if k == 0 or rng.random() < 0.5 else title[: max(8, len(title) // 2)] + "…"
            items.append(self._article(when + timedelta(minutes=2 * k), carried,
                                       summary.format(name=name) if summary else None, office))
        return sorted(items, key=lambda a: a.published_at, reverse=True)

    def _market_story(self, when: datetime) -> None:
        """One market summary, tagged to every stock: the same article under each ticker."""
        rng = self._news_rng
        title = rng.choice(_MARKET).format(n=rng.randint(2400, 2900), way=rng.choice(("상승", "하락")))
        article = self._article(when, title, None, ("014", "파이낸셜뉴스"))
        self.market_articles.add(article)
        for clusters in self.news.values():
            clusters.append([article])

    def _cross_link(self, clusters: list[list[Article]]) -> None:
        """Some stories carry an older article again (a follow-up): one article, two clusters."""
        for index in range(5, len(clusters), 6):
            clusters[index] = [*clusters[index], clusters[index - 3][-1]]

    # ---------------------------------------------------------------- test controls

    def add_news(self, ticker: str, n: int) -> list[list[Article]]:
        """Add n stories to ticker, newer than every story so far (minutes apart, up to now)."""
        with self.lock:  # type: ignore[attr-defined]
            clusters = self.news[ticker]
            last = max((a.published_at for c in clusters for a in c), default=datetime.now())
            added = []
            for k in range(n):
                when = min(datetime.now().replace(second=0, microsecond=0), last + timedelta(minutes=k + 1))
                added.append(self._story(ticker, when))
            clusters.extend(added)
            clusters.sort(key=lambda c: c[0].published_at)
        return added

    def add_story(self, when: datetime) -> None:
        """One story per ticker published at ``when`` (KST, minutes): a simulated day's news."""
        with self.lock:  # type: ignore[attr-defined]
            for ticker, clusters in self.news.items():
                clusters.append(self._story(ticker, when.replace(second=0, microsecond=0)))
                clusters.sort(key=lambda c: c[0].published_at)

    def arrive_news_during_crawl(self, ticker: str, n: int, after_requests: int) -> None:
        """Add n stories to ticker once after_requests more news-list requests have been answered."""
        with self.lock:  # type: ignore[attr-defined]
            self._news_arrivals.append((ticker, n, self._news_requests + after_requests))

    def news_requests(self) -> int:
        with self.lock:  # type: ignore[attr-defined]
            return self._news_requests

    def all_articles(self, ticker: str) -> dict[tuple[str, str], Article]:
        """Every article served for ticker, by (office_id, article_id)."""
        with self.lock:  # type: ignore[attr-defined]
            return {(a.office_id, a.article_id): a for c in self.news.get(ticker, []) for a in c}

    def plant_news_signal(self, share: float, accuracy: float = 0.75) -> int:
        """Re-title a ``share`` of the stories so their headline says which way the next session
        after the story moves from open to close, right with probability ``accuracy``: news's own
        signal, beside the board's (``plant_signal``). Returns how many articles carry it."""
        rng, renamed = self._news_rng, {}
        for ticker, clusters in self.news.items():
            sessions = [r for r in self.prices.get(ticker, []) if r.volume > 0]  # type: ignore[attr-defined]
            opens = [datetime.combine(r.trade_date, time(9, 0)) for r in sessions]
            for cluster in clusters:
                k = bisect.bisect_right(opens, cluster[0].published_at)
                if (rng.random() >= share or cluster[0] in self.market_articles or k >= len(sessions)
                        or sessions[k].close == sessions[k].open):
                    continue
                up = (sessions[k].close > sessions[k].open) == (rng.random() < accuracy)
                title = f"{self.tickers[ticker]} {rng.choice(_SIGNAL_UP if up else _SIGNAL_DOWN)}"  # type: ignore[attr-defined]
                renamed.update({a: replace(a, title=title) for a in cluster if a not in self.market_articles})
        # one article keeps one title in every cluster it appears in
        self.news = {t: [[renamed.get(a, a) for a in c] for c in cs] for t, cs in self.news.items()}
        return len({a.article_id for a in renamed})

    # ---------------------------------------------------------------- the endpoint

    def _news_json(self, path: str, q: dict[str, str]) -> tuple[int, bytes]:
        """(status, body) of a news-list request; the server wraps it (NEWS_CONTENT_TYPE)."""
        code = path[len(NEWS_PREFIX):]
        try:
            page, size = int(q.get("page") or "1"), int(q.get("pageSize") or str(NEWS_PAGE_SIZE))
        except ValueError:
            page = size = 0
        if page < 1 or size < 1:
            body = {"code": "INVALID_PARAMETER", "message": f"page={q.get('page')!r} pageSize={q.get('pageSize')!r}"}
            return 400, json.dumps(body).encode()
        size = min(size, 100)
        with self.lock:  # type: ignore[attr-defined]
            clusters = list(self.news.get(code, [])) if _CODE.fullmatch(code) else []
            self._news_requests += 1
            newest_first = sorted(clusters, key=lambda c: c[0].published_at, reverse=True)
            chunk = newest_first[(page - 1) * size: page * size]
            answer = [{"total": len(c), "items": [article_json(a, bare=is_bare(a)) for a in c]}
                      for c in chunk]
            self._fire_news_arrivals()
        return 200, json.dumps(answer, ensure_ascii=False).encode("utf-8")

    def _fire_news_arrivals(self) -> None:
        due = [a for a in self._news_arrivals if self._news_requests >= a[2]]
        for arrival in due:
            self._news_arrivals.remove(arrival)
            self.add_news(arrival[0], arrival[1])
