"""The table every ingest run ends with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from finsent.store import RunCounters


@dataclass
class TickerReport:
    ticker: str
    status: str
    pages: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    skipped: int = 0
    retries: int = 0
    failures: int = 0
    seconds: float = 0.0
    error: str | None = None

    @classmethod
    def from_counters(cls, ticker: str, status: str, counters: RunCounters, seconds: float,
                      error: str | None = None) -> "TickerReport":
        return cls(ticker=ticker, status=status, pages=counters.pages, fetched=counters.fetched,
                   inserted=counters.inserted, updated=counters.updated, duplicates=counters.duplicates,
                   skipped=counters.skipped, retries=counters.retries, failures=counters.failures,
                   seconds=seconds, error=error)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


_COLUMNS = ("ticker", "status", "pages", "fetched", "inserted", "updated", "duplicates", "skipped",
            "retries", "failures", "seconds")


def format_table(reports: list[TickerReport]) -> str:
    rows = [[str(getattr(r, c)) if c != "seconds" else f"{r.seconds:.1f}" for c in _COLUMNS] for r in reports]
    totals = ["TOTAL", f"{sum(r.ok for r in reports)}/{len(reports)} ok"]
    totals += [str(sum(getattr(r, c) for r in reports)) for c in _COLUMNS[2:-1]]
    totals.append(f"{sum(r.seconds for r in reports):.1f}")
    rows.append(totals)
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(_COLUMNS)]
    line = lambda cells: "  ".join(  # noqa: E731
        cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))
    out = [line(list(_COLUMNS)), line(["-" * w for w in widths])]
    out += [line(row) for row in rows[:-1]]
    out += [line(["-" * w for w in widths]), line(rows[-1])]
    errors = [f"  {r.ticker}: {r.error}" for r in reports if r.error]
    if errors:
        out += ["", "errors:", *errors]
    return "\n".join(out)


def print_table(reports: list[TickerReport], stream: TextIO) -> None:
    stream.write(format_table(reports) + "\n")
    stream.flush()
