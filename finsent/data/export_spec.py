"""What ``finsent export`` and the plugin's JSON API take: the tables, the formats and the row filter
(``ExportFilter``), declared once (``finsent.specs``). Standard library only: the CLI's parser imports it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from finsent.config import parse_ticker_list
from finsent.data.sources import SOURCE_NAMES
from finsent.errors import ConfigError
from finsent.specs import check_fields, option

FORMATS = ("csv", "parquet", "json")
SOURCES = SOURCE_NAMES
TABLE_HELP = {
    "daily-sentiment": "the daily index per source, model version, stock and session (daily_sentiment)",
    "scores": "P(up) of every scored board post, news headline and comment (post_scores, news_scores, comment_scores)",
    "backtest": "each walk-forward backtest's out-of-sample index per stock and session (backtest_daily)",
    "study": "each factor study's grid: IC, interval, n, p and verdict per signal, target and horizon (study_cells)",
    "study-books": "each factor study's books: gross and net of Korean costs per signal, hold and kind (study_books)",
}
# which filters each table takes (a filter a table cannot apply is refused, not ignored)
ROW_FILTERS = ("tickers", "start", "end", "source")
TABLE_FILTERS = {"daily-sentiment": (*ROW_FILTERS, "model_version"), "scores": (*ROW_FILTERS, "model_version"),
                 "backtest": (*ROW_FILTERS, "backtest"), "study": ("study", "backtest"),
                 "study-books": ("study", "backtest")}
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
    backtest: str | None = option(None, "only this backtest (backtest; study, study-books: the studies of it)")
    study: str | None = option(None, "only this study (study, study-books)")

    def validate(self) -> None:
        check_fields(self)
        bad = [t for t in self.tickers if not (len(t) == 6 and t.isascii() and t.isalnum() and t == t.upper())]
        if bad:
            raise ConfigError(f"--tickers: {', '.join(map(repr, bad))} is not a six-character KRX code")
        if self.start and self.end and self.start > self.end:
            raise ConfigError(f"--from {self.start} is after --to {self.end}")

    def check_applies(self, table: str) -> None:
        """ConfigError naming a filter ``table`` cannot apply (set, but not one of its filters)."""
        flags = {"tickers": "--tickers", "start": "--from", "end": "--to"}
        taken = TABLE_FILTERS[table]
        for name in ("tickers", "start", "end", "source", "model_version", "backtest", "study"):
            if getattr(self, name) not in (None, ()) and name not in taken:
                given = ", ".join(flags.get(n, "--" + n.replace("_", "-")) for n in taken)
                raise ConfigError(f"{flags.get(name, '--' + name.replace('_', '-'))} does not apply to {table} "
                                  f"(it takes {given})")
