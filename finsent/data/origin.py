"""Whether the data in a database are synthetic: the demo marks them (``synthetic_data``) before
its first crawl of the loopback Naver, whose board and news carry a planted signal; the Sentiment
page, the API and the exports read the mark and say so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

DEMO_DESCRIPTION = ("the demo's loopback Naver: generated board posts and news headlines, a planted signal "
                    "(titles that foretell the next session's move), generated prices")


@dataclass(frozen=True)
class SyntheticMark:
    source: str
    description: str
    marked_at: datetime


def mark_synthetic(engine: Engine, source: str, description: str = DEMO_DESCRIPTION) -> None:
    """Record that ``source`` writes synthetic data here (again: the time moves)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO synthetic_data (source, description) VALUES (:s, :d) ON CONFLICT (source) "
            "DO UPDATE SET description = EXCLUDED.description, marked_at = now()"), {"s": source, "d": description})


def synthetic_marks(conn: Connection) -> list[SyntheticMark]:
    """Every mark, oldest first (none: the data are what was crawled or imported)."""
    rows = conn.execute(sa.text("SELECT source, description, marked_at FROM synthetic_data ORDER BY marked_at"))
    return [SyntheticMark(r.source, r.description, r.marked_at) for r in rows]
