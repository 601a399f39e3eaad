"""The ``finsent`` command line. Every command has ``--help``; exit codes: 0 ok, 1 a run had
failures, 2 bad input or configuration.

Each room of the package adds its own commands (``finsent/{ingest,data,ml,stack}/cli.py``);
this module holds the entry point and the database and ticker commands.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg2
from sqlalchemy.exc import DBAPIError

from finsent.backup.cli import register as backup_commands
from finsent.cli_args import add_command, open_engine
from finsent.config import load_settings
from finsent.data.cli import register as data_commands
from finsent.errors import FinsentError
from finsent.ingest.cli import register as ingest_commands
from finsent.logs.redact import mask_urls
from finsent.logs.routing import configure as configure_logging
from finsent.logs.routing import report as report_library_log
from finsent.ml.cli import register as ml_commands
from finsent.stack.cli import register as stack_commands
from finsent.stack.embedded import command_session

log = logging.getLogger("finsent")


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Apply pending migrations from sql/ in order, record them in schema_migrations, refuse
    changed ones, seed the default tickers."""
    from finsent.db import upgrade
    from finsent.tickers import seed_default_tickers

    engine = open_engine(require_schema=False)
    applied = upgrade(engine)
    seeded = seed_default_tickers(engine)
    log.info("schema up to date (%d migration(s) applied now, %d default ticker(s) added)", len(applied), seeded)
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    from finsent.db import applied_versions, database_url, load_migrations

    url = database_url(load_settings())
    applied = dict(applied_versions(open_engine(require_schema=False)))
    sys.stdout.write(f"database: {mask_urls(url)}\n")
    for migration in load_migrations():
        state = "applied" if migration.version in applied else "PENDING"
        sys.stdout.write(f"  {migration.name:40s} {state}\n")
    return 0


def cmd_db_url(args: argparse.Namespace) -> int:
    """Print the database URL. The embedded server (no FINSENT_DATABASE_URL) is started and kept running
    for you, so the URL answers (as `finsent db start`); `finsent db stop` stops it."""
    from finsent.db import database_url

    settings = load_settings()
    url = database_url(settings)
    if not settings.database_url:
        _keep_embedded(settings)
    sys.stdout.write(url + "\n")
    return 0


def _keep_embedded(settings) -> None:
    from finsent.stack.embedded import claim, owner

    if owner(settings) != "stack":
        claim(settings, "user")
        log.info("the embedded Postgres keeps running for you: `finsent db stop` stops it")


def cmd_db_start(args: argparse.Namespace) -> int:
    """Start the embedded Postgres (no FINSENT_DATABASE_URL) and keep it running until `finsent db stop`
    (without this, a command stops the server it started when it ends; `finsent stack up` keeps it
    until `finsent stack down`)."""
    from finsent.db import database_url
    from finsent.errors import ConfigError

    settings = load_settings()
    if settings.database_url:
        raise ConfigError("FINSENT_DATABASE_URL is set: there is no embedded server to start")
    database_url(settings)
    _keep_embedded(settings)
    return 0


def cmd_db_stop(args: argparse.Namespace) -> int:
    """Stop the embedded Postgres that `finsent db start` (or `finsent db url`) kept running; a stack's is
    stopped by `finsent stack down`."""
    from finsent.db import stop_embedded_server
    from finsent.errors import ConfigError
    from finsent.stack.embedded import owner, release

    settings = load_settings()
    if settings.database_url:
        raise ConfigError("FINSENT_DATABASE_URL is set: there is no embedded server to stop")
    if owner(settings) == "stack":
        raise ConfigError("the running stack owns the embedded Postgres: stop it with `finsent stack down`")
    release(settings)
    if not stop_embedded_server(settings.embedded_pgdata):
        log.info("the embedded Postgres under %s was not running", settings.embedded_pgdata)
    return 0


def cmd_tickers_list(args: argparse.Namespace) -> int:
    """Every known ticker; with --active only those that are members today (KST). A ticker without
    any membership range counts as always a member."""
    from finsent.tickers import active_tickers, known_tickers

    engine = open_engine()
    known = known_tickers(engine)
    codes = active_tickers(engine) if args.active else list(known)
    for code in codes:
        sys.stdout.write(f"{code}  {known[code]}\n")
    return 0


def cmd_tickers_import(args: argparse.Namespace) -> int:
    """Columns: code,name[,market][,member_from,member_to]; dates YYYY-MM-DD, both ends inclusive,
    empty: open-ended; one line per membership range. The file is the truth for the codes it lists
    (names, markets, ranges replaced); others are kept. All or nothing; importing twice changes nothing."""
    from finsent.ingest.universe import import_universe

    report = import_universe(open_engine(), args.file)
    sys.stdout.write(f"{report.file}: {report.tickers} tickers ({report.added} new), {report.ranges} membership "
                     f"ranges, {report.members_today} members today\n")
    return 0


def cmd_tickers_add(args: argparse.Namespace) -> int:
    """Add one ticker: a six-character KRX code and a name that is not empty."""
    from finsent.tickers import add_tickers

    added = add_tickers(open_engine(), {args.code: args.name}, market=args.market)
    log.info("%s %s", args.code, "added" if added else "already known")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finsent",
        description="finsent: Naver discussion-board sentiment as a measured market signal. "
                    "Configuration comes from FINSENT_* environment variables or a .env file (docs/configuration.md).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="database schema", description="Manage the database schema.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    add_command(db_commands, "upgrade", cmd_db_upgrade, help="apply pending sql/ migrations (idempotent)")
    add_command(db_commands, "status", cmd_db_status, help="list migrations and whether they are applied")
    add_command(db_commands, "url", cmd_db_url,
                help="print the database URL (starts the embedded server and keeps it running)")
    add_command(db_commands, "start", cmd_db_start, help="start the embedded Postgres and keep it running")
    add_command(db_commands, "stop", cmd_db_stop, help="stop the embedded Postgres that `db start` kept running")

    for register in (ingest_commands, data_commands, ml_commands, stack_commands, backup_commands):
        register(commands)

    tickers = commands.add_parser("tickers", help="the stocks finsent knows")
    ticker_commands = tickers.add_subparsers(dest="tickers_command", required=True, metavar="ACTION")
    listing = add_command(ticker_commands, "list", cmd_tickers_list, help="list known tickers")
    listing.add_argument("--active", action="store_true", help="only the members of the universe today")
    universe = add_command(ticker_commands, "import", cmd_tickers_import,
                           help="code,name[,market][,member_from,member_to]: a universe over time")
    universe.add_argument("file", type=Path, help="the CSV file, or - for standard input (read once)")
    add = add_command(ticker_commands, "add", cmd_tickers_add, help="add a ticker")
    add.add_argument("code", help="six-character KRX code, e.g. 005930")
    add.add_argument("name", help="display name, e.g. 삼성전자")
    add.add_argument("--market", default="KOSPI")
    return parser


# SQLSTATEs that mean "this database has no finsent schema (or an older one)", not "unreachable"
_NO_SCHEMA = {"42P01": "undefined_table", "42703": "undefined_column", "42883": "undefined_function"}


def _settings_or_none():
    """The settings, or None when they are bad (the command reports that itself)."""
    try:
        return load_settings()
    except FinsentError:
        return None


def _database_error(exc: Exception) -> int:
    """One line for a database error, and its exit code: 2 when the schema is missing or the database
    refused a value (bad input), 1 otherwise (a dropped connection, a restart: re-run)."""
    orig = getattr(exc, "orig", None) or exc
    reason = (str(orig).strip().splitlines() or [type(exc).__name__])[0]
    code = getattr(orig, "pgcode", None) or ""
    if code in _NO_SCHEMA:
        log.error("the database has no finsent tables, or an older schema (%s); run `finsent db upgrade`", reason)
        return 2
    if code[:2] in ("22", "23"):  # data exception, integrity constraint violation: nothing was written
        log.error("the database refused a value: %s; nothing was written", reason)
        return 2
    # A dropped connection, a server restart, a killed backend: one line, not a traceback.
    # Every step commits all or nothing (ingest: page by page), so a re-run picks up cleanly.
    log.error("database error: %s; committed work is kept, nothing half-written: re-run when the "
              "database is reachable", reason)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = _settings_or_none()
    # finsent's lines on stderr, the libraries' (MLflow's, warnings) to the data folder's logs/cli.log;
    # every line masked: no password of any URL (the database's, MLflow's) reaches either
    library_file = configure_logging(args.verbose, settings.data_dir if settings else None,
                                     divert=args.command != "stack")
    func: Callable[[argparse.Namespace], int] = args.func
    # the embedded server (no FINSENT_DATABASE_URL): this command stops it again if it started it
    with command_session(settings):
        try:
            return func(args)
        except FinsentError as exc:
            log.error("%s", exc)
            return exc.exit_code
        except (DBAPIError, psycopg2.Error) as exc:
            return _database_error(exc)
        except KeyboardInterrupt:
            log.error("interrupted; committed pages are kept and the next run resumes")
            return 130
        finally:
            report_library_log(library_file)


if __name__ == "__main__":
    raise SystemExit(main())
