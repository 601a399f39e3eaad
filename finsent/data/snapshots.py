"""Reading frozen dataset snapshots: list them, show one, load one (its hash checked), its hash."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from datetime import date
from typing import TextIO

import pandas as pd
from sqlalchemy.engine import Engine

from finsent.data.text import TextSpec
from finsent.db import raw_connection
from finsent.errors import ConfigError, SnapshotError

SPLITS = ("train", "valid", "test")


def show_dataset(engine: Engine, name: str, stream: TextIO = sys.stdout) -> None:
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute("SELECT spec, content_hash, rows, created_at FROM datasets WHERE name = %s", (name,))
        row = cur.fetchone()
        if row is None:
            raise ConfigError(f"no dataset named {name!r}; see `finsent dataset list`")
        spec, content_hash, rows, created_at = row
        cur.execute("SELECT split, label, count(*), min(session_date), max(session_date) FROM dataset_rows "
                    "WHERE dataset = %s GROUP BY split, label", (name,))
        by_label = cur.fetchall()
        cur.execute("SELECT split, min(session_date), max(session_date), count(DISTINCT session_date) "
                    "FROM dataset_rows WHERE dataset = %s GROUP BY split", (name,))
        spans = {r[0]: r[1:] for r in cur.fetchall()}
        cur.execute("SELECT ticker, split, count(*) FROM dataset_rows WHERE dataset = %s GROUP BY ticker, split "
                    "ORDER BY ticker", (name,))
        by_ticker = cur.fetchall()
    stream.write(f"dataset {name}  ({rows} rows, created {created_at:%Y-%m-%d %H:%M})\n")
    stream.write(f"content hash  {content_hash}\n")
    stream.write(f"spec          {json.dumps(spec, ensure_ascii=False, sort_keys=True)}\n\n")
    stream.write(f"{'split':6s} {'up':>8s} {'down':>8s} {'total':>8s} {'up share':>9s}  sessions  date range\n")
    for part in SPLITS:
        counts = {label: n for split, label, n, *_ in by_label if split == part}
        total = sum(counts.values())
        if part in spans:
            first, last, sessions = spans[part]
            span = f"{sessions:8d}  {first} .. {last}"
        else:
            span = f"{0:8d}  -"
        share = f"{counts.get('up', 0) / total:9.1%}" if total else f"{'-':>9s}"
        stream.write(f"{part:6s} {counts.get('up', 0):8d} {counts.get('down', 0):8d} {total:8d} {share}  {span}\n")
    stream.write(f"\n{'ticker':8s} {'train':>8s} {'valid':>8s} {'test':>8s}\n")
    tickers = sorted({t for t, _, _ in by_ticker})
    for ticker in tickers:
        cells = {split: n for t, split, n in by_ticker if t == ticker}
        stream.write(f"{ticker:8s} " + " ".join(f"{cells.get(s, 0):8d}" for s in SPLITS) + "\n")


def list_datasets(engine: Engine, stream: TextIO = sys.stdout) -> None:
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute("SELECT name, rows, content_hash, created_at, spec->>'definition', spec->>'split' "
                    "FROM datasets ORDER BY created_at")
        for name, rows, content_hash, created_at, definition, split in cur.fetchall():
            stream.write(f"{name:24s} {rows:9d} rows  {definition:16s} {split:6s} {content_hash[:12]}  "
                         f"{created_at:%Y-%m-%d %H:%M}\n")


def snapshot_digest(spec: dict) -> hashlib._Hash:
    """The content hash starts from the spec, so the same rows under another spec hash apart."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode())


def snapshot_row(part: str, ticker: str, post_id: int, label: str, session_date: date, title: str,
                 ret: float, previous_session_up: float, body: str | None = None) -> bytes:
    """One row's contribution to the content hash: every value training and evaluation read (a row
    without a body hashes as rows did before snapshots froze bodies)."""
    return (f"{part}\t{ticker}\t{post_id}\t{label}\t{session_date}\t{title}\t{float(ret)!r}\t"
            f"{float(previous_session_up)!r}" + ("" if body is None else f"\t{body}") + "\n").encode()


@dataclass
class Snapshot:
    """A frozen snapshot as read back: its spec, its verified hash, and its parts as DataFrames with
    ticker, post_id, title, body, label, session_date, ret, previous_session_up."""

    name: str
    spec: dict
    content_hash: str
    parts: dict[str, pd.DataFrame]

    @property
    def text(self) -> TextSpec:
        """What the models of this snapshot read (its rows hold that body)."""
        return TextSpec.of_snapshot(self.spec)

    def part(self, split: str) -> pd.DataFrame:
        if split not in SPLITS:
            raise ConfigError(f"split must be one of {', '.join(SPLITS)}")
        return self.parts[split]

    def session_span(self, *splits: str) -> tuple[date, date] | None:
        """First and last session date over the given parts (None when they are empty)."""
        dates = pd.concat([self.parts[s]["session_date"] for s in splits])
        return (dates.min(), dates.max()) if len(dates) else None


_COLUMNS = ("split", "ticker", "post_id", "title", "label", "session_date", "ret", "previous_session_up", "body")


def load_snapshot(engine: Engine, name: str) -> Snapshot:
    """Read a snapshot's frozen rows and check them against its content hash; a snapshot whose rows
    changed after it was built (or one built before rows were frozen) is refused."""
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute("SELECT spec, content_hash, hash_version FROM datasets WHERE name = %s", (name,))
        found = cur.fetchone()
        if found is None:
            raise ConfigError(f"no dataset snapshot named {name!r}; build it with `finsent dataset build {name}`")
        spec, content_hash, hash_version = found
        if hash_version < 2:
            raise SnapshotError(f"dataset {name!r} was built before snapshots froze their returns; rebuild it "
                                f"with `finsent dataset build {name} --replace`")
        cur.execute(f"SELECT {', '.join(_COLUMNS)} FROM dataset_rows WHERE dataset = %s "
                    "ORDER BY array_position(ARRAY['train', 'valid', 'test'], split), ticker, post_id", (name,))
        rows = cur.fetchall()
    digest = snapshot_digest(spec)
    for split, ticker, post_id, title, label, session_date, ret, previous, body in rows:
        digest.update(snapshot_row(split, ticker, post_id, label, session_date, title, ret, previous, body))
    if digest.hexdigest() != content_hash:
        raise SnapshotError(f"dataset {name!r}: its rows no longer match its content hash {content_hash[:12]} "
                            f"(they hash to {digest.hexdigest()[:12]}); a snapshot is frozen, so it is refused. "
                            f"Rebuild it with `finsent dataset build {name} --replace`")
    frame = pd.DataFrame(rows, columns=list(_COLUMNS))
    frame["ret"] = frame["ret"].astype(float)
    frame["previous_session_up"] = frame["previous_session_up"].astype(float)
    parts = {split: frame[frame["split"] == split].drop(columns="split").reset_index(drop=True) for split in SPLITS}
    return Snapshot(name, spec, content_hash, parts)


def load_split(engine: Engine, name: str, split: str) -> pd.DataFrame:
    """One part of a verified snapshot (see ``load_snapshot``)."""
    return load_snapshot(engine, name).part(split)


def dataset_hash(engine: Engine, name: str) -> str:
    with engine.connect() as conn:
        value = conn.exec_driver_sql("SELECT content_hash FROM datasets WHERE name = %(n)s", {"n": name}).scalar()
    if value is None:
        raise ConfigError(f"no dataset snapshot named {name!r}")
    return value
