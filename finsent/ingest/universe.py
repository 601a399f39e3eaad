"""``finsent tickers import FILE.csv``: a universe (e.g. the KOSPI 200 over time) as data.

Columns ``code,name[,market][,member_from,member_to]``; dates ``YYYY-MM-DD``, both ends inclusive.
A code may appear on several lines, one per membership range (same name and market on each, ranges
not overlapping). An empty ``member_from`` means since before any data, an empty ``member_to`` still
a member; a line with neither makes the ticker a member throughout.

The file is the truth for the codes it lists: their names, markets and membership ranges are
replaced by the file's; other tickers are left alone, so importing a file twice changes nothing.
All or nothing, like every import: the input is read once and checked whole; one bad line rejects
the file (``file:line: reason``, exit 2) and nothing is written.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine

from finsent.db import raw_transaction
from finsent.ingest.csv_input import MAX_REPORTED, CsvInput, refuse_rejected
from finsent.tickers import CODE_PATTERN, today_kst

log = logging.getLogger(__name__)

REQUIRED = ("code", "name")
OPTIONAL = ("market", "member_from", "member_to")
MARKETS = ("KOSPI", "KOSDAQ", "KONEX")
KRX_FOUNDED = date(1956, 3, 3)  # an earlier date is a typo, not a membership
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class UniverseRow:
    line: int
    code: str
    name: str
    market: str
    member_from: date | None
    member_to: date | None

    def overlaps(self, other: UniverseRow) -> bool:
        return ((self.member_from is None or other.member_to is None or self.member_from <= other.member_to)
                and (other.member_from is None or self.member_to is None or other.member_from <= self.member_to))


@dataclass
class UniverseReport:
    tickers: int  # codes in the file
    added: int  # of them new to finsent
    ranges: int  # membership ranges stored
    members_today: int  # of the file's codes
    file: str = ""
    renamed: list[str] = field(default_factory=list)


def _date(value: str, column: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    if not _DATE.match(value):
        raise ValueError(f"{column} {value!r} is not a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column} {value!r} is not a calendar date") from None
    if day < KRX_FOUNDED:
        raise ValueError(f"{column} {value} is before the Korea Exchange opened ({KRX_FOUNDED})")
    return day


def parse_universe_record(line: int, record: dict[str, str]) -> UniverseRow:
    if "__error__" in record:
        raise ValueError(record["__error__"])
    code, name = record["code"].strip(), record["name"].strip()
    if CODE_PATTERN.fullmatch(code) is None:
        raise ValueError(f"code {code!r} is not six digits/capitals (e.g. 005930)")
    if not name:
        raise ValueError("name is empty")
    market = (record.get("market") or "").strip() or "KOSPI"
    if market not in MARKETS:
        raise ValueError(f"market {market!r} is not one of {', '.join(MARKETS)}")
    member_from = _date(record.get("member_from") or "", "member_from")
    member_to = _date(record.get("member_to") or "", "member_to")
    if member_from and member_to and member_from > member_to:
        raise ValueError(f"member_from {member_from} is after member_to {member_to}")
    return UniverseRow(line, code, name, market, member_from, member_to)


def _check(row: UniverseRow, seen: dict[str, list[UniverseRow]]) -> None:
    """A code's lines agree on name and market and their ranges do not overlap."""
    earlier = seen.setdefault(row.code, [])
    if earlier and (earlier[0].name, earlier[0].market) != (row.name, row.market):
        raise ValueError(f"{row.code} is {earlier[0].name!r} ({earlier[0].market}) on line {earlier[0].line}")
    for other in earlier:
        if row.overlaps(other):
            raise ValueError(f"{row.code}'s range overlaps the one on line {other.line}")
    earlier.append(row)


def read_universe(source: CsvInput) -> list[UniverseRow]:
    """Every row checked; InputError listing the first bad lines, or the rows."""
    rows: list[UniverseRow] = []
    errors: list[str] = []
    seen: dict[str, list[UniverseRow]] = {}
    for line, record in source.records():
        try:
            row = parse_universe_record(line, record)
            _check(row, seen)
            rows.append(row)
        except (ValueError, KeyError) as exc:
            errors.append(f"{source.name}:{line}: {exc}")
            if len(errors) >= MAX_REPORTED:
                break
    refuse_rejected(source.name, errors, len(rows))
    return rows


def import_universe(engine: Engine, path: Path) -> UniverseReport:
    with CsvInput(path, REQUIRED, OPTIONAL) as source:
        rows = read_universe(source)
        label = source.label
    names = {r.code: (r.name, r.market) for r in rows}
    codes = list(names)
    today = today_kst()
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        cur.execute("SELECT code, name FROM tickers WHERE code = ANY(%s)", (codes,))
        stored = dict(cur.fetchall())
        cur.executemany("INSERT INTO tickers (code, name, market) VALUES (%s, %s, %s) ON CONFLICT (code) DO UPDATE "
                        "SET name = EXCLUDED.name, market = EXCLUDED.market WHERE (tickers.name, tickers.market) "
                        "IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.market)",
                        [(c, n, m) for c, (n, m) in names.items()])
        cur.execute("DELETE FROM ticker_memberships WHERE ticker = ANY(%s)", (codes,))
        cur.executemany("INSERT INTO ticker_memberships (ticker, member_from, member_to) VALUES (%s, %s, %s)",
                        [(r.code, r.member_from, r.member_to) for r in rows])
    members = {r.code for r in rows if (r.member_from is None or r.member_from <= today)
               and (r.member_to is None or today <= r.member_to)}
    report = UniverseReport(tickers=len(codes), added=sum(c not in stored for c in codes), ranges=len(rows),
                            members_today=len(members), file=label,
                            renamed=sorted(c for c in codes if c in stored and stored[c] != names[c][0]))
    log.info("%s: %d ticker(s) (%d new, %d renamed), %d membership range(s), %d member(s) today", label,
             report.tickers, report.added, len(report.renamed), report.ranges, report.members_today)
    return report
