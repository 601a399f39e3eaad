"""What a registered version learnt from (``TrainingRecord``, tagged on the version) and which
sessions of a test part it may have seen: its training labels reach ``horizon - 1`` trading
sessions past the last session it trained or validated on. The champion rule
(``finsent.ml.promotion``) and ``finsent evaluate`` (``finsent.ml.evaluate``) both read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from finsent.data.snapshots import Snapshot


@dataclass(frozen=True)
class TrainingRecord:
    """What a version learnt from, as tagged on it: the snapshot, its label definition, rule and
    horizon, its split, the last session it trained or validated on, the last session whose price
    those labels used (``label_reach``: ``seen_through`` plus horizon - 1 trading sessions), and its
    test span."""

    dataset: str
    dataset_hash: str
    definition: str
    label_rule: str
    split: str
    seen_through: date | None
    test_from: date | None
    test_to: date | None
    horizon: int = 1
    label_reach: date | None = None

    _DATES = ("seen_through", "test_from", "test_to", "label_reach")

    @property
    def reach(self) -> date | None:
        """The last session any of its training labels looked at (None: unknown)."""
        if self.label_reach is not None:
            return self.label_reach
        return self.seen_through if self.horizon == 1 else None

    def tags(self) -> dict[str, str]:
        return {"dataset": self.dataset, "dataset_hash": self.dataset_hash, "label_definition": self.definition,
                "label_rule": self.label_rule, "label_horizon": str(self.horizon), "split": self.split,
                **{k: (getattr(self, k).isoformat() if getattr(self, k) else "") for k in self._DATES}}

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> TrainingRecord | None:
        needed = ("dataset", "label_definition", "label_rule", "split", "seen_through", "test_from", "test_to")
        if any(k not in tags for k in needed):
            return None
        dates = {k: date.fromisoformat(tags[k]) if tags.get(k) else None for k in cls._DATES}
        return cls(tags["dataset"], tags.get("dataset_hash", ""), tags["label_definition"], tags["label_rule"],
                   tags["split"], horizon=int(tags.get("label_horizon") or 1), **dates)

    @classmethod
    def from_snapshot(cls, engine: Engine, snapshot: Snapshot) -> TrainingRecord:
        from finsent.data.labels import load_definition
        from finsent.db import raw_connection

        seen = pd.concat([snapshot.part("train"), snapshot.part("valid")])
        last = seen.groupby("ticker")["session_date"].max().to_dict()
        with raw_connection(engine) as raw, raw.cursor() as cur:
            definition = load_definition(cur, snapshot.spec["definition"])
            reach = _label_reach(cur, last, definition.horizon)
        test = snapshot.session_span("test")
        return cls(snapshot.name, snapshot.content_hash, snapshot.spec["definition"], definition.rule,
                   snapshot.spec["split"], max(last.values()) if last else None, test[0] if test else None,
                   test[1] if test else None, definition.horizon, reach)


def snapshot_horizon(engine: Engine, snapshot: Snapshot) -> int:
    """How many sessions the labels of ``snapshot`` span (its label definition's horizon)."""
    from finsent.data.labels import load_definition
    from finsent.db import raw_connection

    with raw_connection(engine) as raw, raw.cursor() as cur:
        return load_definition(cur, snapshot.spec["definition"]).horizon


def _label_reach(cur, last_by_ticker: dict[str, date], horizon: int) -> date | None:
    """The latest trading session that a horizon-``horizon`` label of each ticker's last training
    session reaches: its own session plus horizon - 1 more of that ticker's sessions (the label's
    calendar, ``sessions``). None when the calendar does not go that far (unknown, so no test of it)."""
    if not last_by_ticker:
        return None
    if horizon == 1:
        return max(last_by_ticker.values())
    cur.execute("""
        SELECT bool_and(t.trade_date IS NOT NULL), max(t.trade_date)
        FROM unnest(%s::text[], %s::date[]) AS l(ticker, last_date)
        LEFT JOIN sessions s ON s.ticker = l.ticker AND s.trade_date = l.last_date
        LEFT JOIN sessions t ON t.ticker = l.ticker AND t.session_no = s.session_no + %s - 1""",
                (list(last_by_ticker), list(last_by_ticker.values()), horizon))
    complete, reach = cur.fetchone()
    return reach if complete else None


def record_from_rows(engine: Engine, dataset: str, dataset_hash: str) -> TrainingRecord | None:
    """A version's record read from ``dataset_rows``, when its snapshot is still the one it trained on."""
    from finsent.db import raw_connection

    query = """
        SELECT ds.content_hash, ds.spec->>'definition', ds.spec->>'split', ld.rule, coalesce(ld.horizon, 1),
               min(r.session_date) FILTER (WHERE r.split = 'test'), max(r.session_date) FILTER (WHERE r.split = 'test')
        FROM datasets ds JOIN dataset_rows r ON r.dataset = ds.name
        LEFT JOIN label_definitions ld ON ld.name = ds.spec->>'definition'
        WHERE ds.name = %s GROUP BY 1, 2, 3, 4, 5"""
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute(query, (dataset,))
        row = cur.fetchone()
        if row is None or row[0] != dataset_hash:
            return None
        cur.execute("SELECT ticker, max(session_date) FROM dataset_rows WHERE dataset = %s "
                    "AND split IN ('train', 'valid') GROUP BY ticker", (dataset,))
        last = dict(cur.fetchall())
        reach = _label_reach(cur, last, row[4])
    return TrainingRecord(dataset, row[0], row[1], row[3] or "", row[2], max(last.values()) if last else None,
                          row[5], row[6], row[4], reach)


def in_sample_sessions(record: TrainingRecord | None, sessions: pd.Series) -> list[date] | None:
    """The test sessions a version may have seen (on or before its label reach), sorted; None when
    its record cannot tell."""
    if record is None or record.reach is None:
        return None
    return sorted({d for d in sessions if d <= record.reach})
