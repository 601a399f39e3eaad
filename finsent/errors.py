"""The errors finsent raises on purpose. Each maps to a CLI exit code (see ``finsent.cli``)."""

from __future__ import annotations


class FinsentError(Exception):
    """Base class: a clear, user-facing error. The CLI prints the message and exits non-zero."""

    exit_code = 1


class ConfigError(FinsentError):
    """A setting or argument is wrong (bad env var, unknown ticker, bad date)."""

    exit_code = 2


class InputError(FinsentError):
    """An input file is wrong; the message names the file, line and reason."""

    exit_code = 2


class SchemaMissingError(ConfigError):
    """The database has no finsent tables, or migrations are pending: `finsent db upgrade` fixes it."""


class MigrationError(FinsentError):
    """The schema migrations on disk disagree with what the database recorded."""


class FetchError(FinsentError):
    """A request failed for good (retries exhausted, 4xx, robots.txt disallow)."""


class RobotsDisallowedError(FetchError):
    """robots.txt disallows the URL: fails at once, never retried (the message names the rule)."""


class UnusableAnswerError(FetchError):
    """An answer that cannot be used as it came, and will not change on a retry: a body that does
    not decode (a bad gzip stream), a redirect loop, too many redirects, a redirect off http(s) or to
    another scheme. The ticker's run saves ``body`` under ``FINSENT_DATA_DIR/quarantine/``."""

    def __init__(self, url: str, reason: str, *, body: bytes = b"", content_type: str | None = None,
                 redirects: list[str] | None = None) -> None:
        self.url = url
        self.reason = reason
        self.body = body
        self.content_type = content_type
        self.redirects = redirects or []  # the URLs followed before this answer, in order
        super().__init__(f"GET {url}: {reason}")


class HostBusyError(FetchError):
    """The host asked us (a 429's Retry-After, or the shared host clock it set) to wait longer than
    ``FINSENT_HTTP_MAX_WAIT_S``: the ticker fails at once, to be crawled by a later run."""


class PageParseError(FinsentError):
    """A response did not parse: the layout changed, or the body is truncated or empty.

    The raw body is saved under ``FINSENT_DATA_DIR/quarantine/`` and its path is in the message.
    """

    def __init__(self, url: str, reason: str, quarantined: str | None = None) -> None:
        self.url = url
        self.reason = reason
        self.quarantined = quarantined
        where = f" (raw body saved to {quarantined})" if quarantined else ""
        super().__init__(f"could not parse {url}: {reason}{where}")


class LockedError(FinsentError):
    """Another run holds the advisory lock for this ticker."""


class NotRegisteredError(FinsentError):
    """The MLflow registry has no such model version or alias (e.g. no champion yet): exit 2, the
    message says what the registry has.

    Any other registry failure (unreachable server, bad store) is a plain error, never this."""

    exit_code = 2


class DatabaseUnreachableError(ConfigError):
    """The configured database does not take a connection at all (a wrong port or host, no such
    database, a refused login): check the settings (exit 2). A connection lost later is exit 1."""


class SnapshotError(FinsentError):
    """A dataset snapshot's rows do not match its content hash (or predate frozen rows): rebuild it."""

    exit_code = 2
