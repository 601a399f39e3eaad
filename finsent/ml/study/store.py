"""Studies in Postgres (``studies``, ``study_cells``, ``study_books``): written together, read back
whole; a study's stored spec says what it was computed from (its options and its backtest's)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Engine

from finsent.db import raw_connection, raw_transaction
from finsent.errors import ConfigError
from finsent.ml.study.report import BOOK_KEYS, CELL_KEYS

_CELL_COLUMNS = [k for k in CELL_KEYS if k != "stocks"]
_BOOK_COLUMNS = list(BOOK_KEYS)


def backtest_inputs(engine: Engine, backtest: str) -> dict[str, Any]:
    """The finished backtest's spec and finish time (a rerun of the backtest is another input);
    ConfigError when there is none, or it is not finished."""
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute("SELECT spec, status, finished_at FROM backtests WHERE name = %s", (backtest,))
        found = cur.fetchone()
    if found is None:
        raise ConfigError(f"no backtest {backtest!r}; walk it first: finsent backtest {backtest}")
    spec, status, finished_at = found
    if status != "done":
        raise ConfigError(f"backtest {backtest!r} is not finished ({status}); rerun `finsent backtest {backtest}` "
                          "with its options to go on")
    return {"backtest_spec": spec, "backtest_finished_at": finished_at.isoformat() if finished_at else None}


def saved(engine: Engine, name: str) -> tuple[dict, dict, str | None] | None:
    """(stored spec, report, MLflow run id) of the study, or None."""
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute("SELECT spec, report, mlflow_run_id FROM studies WHERE name = %s", (name,))
        found = cur.fetchone()
    return None if found is None else (found[0], found[1], found[2])


def changed_keys(stored: dict, wanted: dict) -> list[str]:
    return sorted(k for k in stored.keys() | wanted.keys() if stored.get(k) != wanted.get(k))


def save(engine: Engine, name: str, backtest: str, spec: dict, report: dict) -> None:
    """The study, its cells and its books, in one transaction (an older study of the name replaced)."""
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        cur.execute("DELETE FROM studies WHERE name = %s", (name,))
        cur.execute("INSERT INTO studies (name, backtest, spec, report) VALUES (%s, %s, %s, %s)",
                    (name, backtest, json.dumps(spec), json.dumps(report)))
        cur.executemany(f"INSERT INTO study_cells (study, {', '.join(_CELL_COLUMNS)}) VALUES "
                        f"(%s, {', '.join(['%s'] * len(_CELL_COLUMNS))})",
                        [(name, *(c[k] for k in _CELL_COLUMNS)) for c in report["grid"]])
        cur.executemany(f"INSERT INTO study_books (study, {', '.join(_BOOK_COLUMNS)}) VALUES "
                        f"(%s, {', '.join(['%s'] * len(_BOOK_COLUMNS))})",
                        [(name, *(b[k] for k in _BOOK_COLUMNS)) for b in report["books"]])


def set_run_id(engine: Engine, name: str, run_id: str) -> None:
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        cur.execute("UPDATE studies SET mlflow_run_id = %s WHERE name = %s", (run_id, name))
