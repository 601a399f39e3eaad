"""What every room's command module shares: argument types, the subcommand helper and the checked
database; a step's own options (bounds and all) come from its spec (``finsent.specs``).
``finsent/cli.py`` (the entry point) imports the room CLIs, which import this module, never the
entry point."""

from __future__ import annotations

import argparse
import inspect
import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from finsent.config import load_settings
from finsent.errors import SchemaMissingError

log = logging.getLogger(__name__)


def date_arg(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return number


def open_engine(*, require_schema: bool = True) -> Engine:
    """The configured database (the embedded server is started when no URL is set), checked to take a
    connection (DatabaseUnreachableError, exit 2: a wrong port, no such database) and to have every
    migration applied (SchemaMissingError, exit 2, otherwise)."""
    from finsent.db import applied_versions, create_engine, load_migrations, probe

    engine = probe(create_engine(load_settings()))
    if require_schema:
        applied = {version for version, _ in applied_versions(engine)}
        pending = [m.name for m in load_migrations() if m.version not in applied]
        if pending:
            what = "has no finsent tables" if not applied else f"lacks {len(pending)} migration(s) ({pending[0]} ...)"
            raise SchemaMissingError(f"the database {what}: run `finsent db upgrade`")
    return engine


def add_command(commands: Any, name: str, func: Callable[[argparse.Namespace], int], *,
                help: str) -> argparse.ArgumentParser:
    """A subcommand running ``func``; its ``--help`` description is ``func``'s docstring."""
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help, description=inspect.getdoc(func))
    parser.set_defaults(func=func)
    return parser


class DeprecatedSpelling(argparse.Action):
    """An option's old spelling, kept for one release where users already type it: it stores into
    the new option's ``dest`` and warns, naming the new spelling (``new``)."""

    def __init__(self, option_strings: list[str], dest: str, *, new: str, **kwargs: Any) -> None:
        self.new = new
        kwargs.setdefault("help", f"deprecated spelling of {new} (accepted until the next release)")
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        log.warning("%s %s is deprecated: use %s (the old spelling goes in the next release)", parser.prog,
                    option_string, self.new)
        setattr(namespace, self.dest, values)
