"""Argument types and helpers shared by the command modules (``finsent/*/cli.py``)."""

from __future__ import annotations

import argparse
import inspect
from datetime import date, datetime


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


def fraction(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None


def open_engine():
    """The configured database (the embedded server is started when no URL is set)."""
    from finsent.config import load_settings
    from finsent.db import create_engine

    return create_engine(load_settings())


def add_command(commands, name: str, func, *, help: str) -> argparse.ArgumentParser:
    """A subcommand running ``func``; its ``--help`` description is ``func``'s docstring."""
    parser = commands.add_parser(name, help=help, description=inspect.getdoc(func))
    parser.set_defaults(func=func)
    return parser
