"""What every room's command module shares: argument types with real bounds, the subcommand helper
and the checked database. ``finsent/cli.py`` (the entry point) imports the room CLIs, which import
this module, never the entry point."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from finsent.config import load_settings
from finsent.errors import SchemaMissingError


def date_arg(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def _number(value: str, kind: Callable[[str], float | int], what: str) -> float | int:
    try:
        number = kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not {what}") from None
    if number != number or number in (float("inf"), float("-inf")):  # NaN and infinities bound nothing
        raise argparse.ArgumentTypeError(f"{value!r} is not a finite number")
    return number


def bounded(kind: type, *, low: float | None = None, high: float | None = None, low_open: bool = False,
            high_open: bool = False) -> Callable[[str], float | int]:
    """An argparse type: ``kind`` (int or float) in the interval given, e.g. bounded(float, low=0,
    high=1, low_open=True) for (0, 1]. Its name (the error message) states the interval."""
    what = "an integer" if kind is int else "a number"
    interval = (("(" if low_open else "[") + ("-inf" if low is None else f"{low:g}") + ", "
                + ("inf" if high is None else f"{high:g}") + (")" if high_open or high is None else "]"))

    def parse(value: str) -> float | int:
        number = _number(value, kind, what)
        too_low = low is not None and (number <= low if low_open else number < low)
        too_high = high is not None and (number >= high if high_open else number > high)
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"{value!r} must be in {interval}")
        return number

    parse.__name__ = f"{kind.__name__} in {interval}"
    return parse


def positive_int(value: str) -> int:
    number = int(_number(value, int, "an integer"))
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return number


non_negative_int = bounded(int, low=0)
fraction = bounded(float, low=0, high=1, high_open=True)  # a share of rows: [0, 1)
rate = bounded(float, low=0, high=1, low_open=True)  # a learning rate: (0, 1]
bps = bounded(float, low=0, high=10_000, high_open=True)  # basis points: [0, 10000)


def open_engine(*, require_schema: bool = True) -> Engine:
    """The configured database (the embedded server is started when no URL is set), checked to have
    every migration applied (SchemaMissingError, exit 2, otherwise)."""
    from finsent.db import applied_versions, create_engine, load_migrations

    engine = create_engine(load_settings())
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
