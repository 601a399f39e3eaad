"""What ``finsent export`` and the plugin's JSON API take: the tables, the formats and the row filter
(``ExportFilter``), declared once (``finsent.specs``). Standard library only: the CLI's parser imports it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from finsent.config import parse_ticker_list
from finsent.errors import ConfigError
from finsent.specs import check_fields, option

FORMATS = ("csv", "parquet", "json")
SOURCES = ("board", "news")
TABLE_HELP = {
    "daily-sentiment": "the daily index per source, model version, stock and session (daily_sentiment)",
    "scores": "P(up) of every scored board post and news headline (post_scores, news_scores)",
    "backtest": "each walk-forward backtest's out-of-sample index per stock and session (backtest_daily)",
}
TABLE_NAMES = tuple(TABLE_HELP)


def _tickers(text: str) -> tuple[str, ...]:
    return tuple(parse_ticker_list(text))


@dataclass(frozen=True)
class ExportFilter:
    """Which rows of a table: every option is optional (unset: all rows)."""

    tickers: tuple[str, ...] = option((), "only these tickers, comma-separated (default: all)", text=_tickers)
    start: date | None = option(None, "first date, inclusive (sessions; scores: the post's KST date)", flag="--from")
    end: date | None = option(None, "last date, inclusive", flag="--to")
    source: str | None = option(None, "board or news (default: both)", choices=SOURCES)
    model_version: int | None = option(None, "only this model version (daily-sentiment, scores)", minimum=1)
    backtest: str | None = option(None, "only this backtest (backtest)")

    def validate(self) -> None:
        check_fields(self)
        bad = [t for t in self.tickers if not (len(t) == 6 and t.isascii() and t.isalnum() and t == t.upper())]
        if bad:
            raise ConfigError(f"--tickers: {', '.join(map(repr, bad))} is not a six-character KRX code")
        if self.start and self.end and self.start > self.end:
            raise ConfigError(f"--from {self.start} is after --to {self.end}")
