"""Options declared once: a step's settings are a frozen dataclass whose fields carry their help,
choices, bounds and default (``option(...)``). From that one declaration come the argparse flags of
every command that takes the spec (``add_arguments``), the Airflow ``Param``s of every DAG that
takes it (``param_schemas``, turned into ``Param`` by ``finsent.orchestration.airflow_support``)
and the checks, with one message style (``--flag must be ..., got ...``, a ConfigError: exit 2).

The defaults that more than one spec offers, or that a reader of a stored spec falls back to (a walk
stored before an option existed), are declared here once: the label definition, the costs. The
model kinds and their default are declared with the kinds (``finsent.ml.models.kinds``), the text
sources with theirs (``finsent.data.sources``).

Standard library only: the DAG files import the specs at parse time.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from types import NoneType, UnionType
from typing import Any

from finsent.errors import ConfigError

# The label definition datasets, training and backtests use unless told: the tradable open-to-close
# return of the post's session (the only rule whose verdicts count, finsent.data.labels).
DEFAULT_DEFINITION = "next_open_close"
# Costs of the long-short book, per unit of notional: fees + spread + impact on each side, and the
# KRX sell-side tax per unit sold (KOSPI from 2026-01-01: 0.05% transaction tax + 0.15% special tax;
# the tax by trade date is finsent.ml.costs). A stored walk without one of them had these.
DEFAULT_COST_BPS = 20.0
DEFAULT_SELL_TAX_BPS = 20.0


@dataclass(frozen=True)
class Option:
    """What a field means to a user: its help, and the values it may take."""

    help: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    # a field typed as a tuple that users give as text ("all", "a,b"): the parser, and the default's text
    text: Callable[[str], Any] | None = None
    text_default: str | None = None  # None: unset keeps the field's default
    flag: str | None = None  # the command's spelling when it is not --the-field-name


def option(default: Any, help: str, *, factory: bool = False, **rules: Any) -> Any:
    """A spec field with its default (made by calling ``default`` when ``factory``) and what users
    are told about it (see ``Option``)."""
    metadata = {"option": Option(help=help, **rules)}
    if factory:
        return dataclasses.field(default_factory=default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def nested(factory: Callable[[], Any], *, skip: Iterable[str] = ()) -> Any:
    """A field holding another spec whose options are offered flat (without ``skip``)."""
    return dataclasses.field(default_factory=factory, metadata={"nested": tuple(skip)})


@dataclass(frozen=True)
class Flag:
    """One option of a spec as a command and a DAG offer it."""

    name: str  # the field name: the DAG param and the argparse dest
    option: Option
    kind: type  # int, float, str, bool or date (str for a text option)
    nullable: bool
    default: Any  # as users give it (a text option's text)

    @property
    def flag(self) -> str:
        return self.option.flag or "--" + self.name.replace("_", "-")


def _kind(hint: Any) -> tuple[type, bool]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (UnionType, typing.Union) and NoneType in args:
        return next(a for a in args if a is not NoneType), True
    return typing.get_origin(hint) or hint, False


def flags(spec_class: type, *, skip: Iterable[str] = ()) -> list[Flag]:
    """Every option of ``spec_class`` (nested specs' flattened in), in declaration order."""
    skipped, hints, found = set(skip), typing.get_type_hints(spec_class), []
    for field in dataclasses.fields(spec_class):
        if "nested" in field.metadata:
            found += flags(hints[field.name], skip={*field.metadata["nested"], *skipped})
        elif "option" in field.metadata and field.name not in skipped:
            meta: Option = field.metadata["option"]
            kind, nullable = (str, meta.text_default is None) if meta.text else _kind(hints[field.name])
            found.append(Flag(field.name, meta, kind, nullable, meta.text_default if meta.text else field.default))
    return found


def _interval(meta: Option) -> str | None:
    if meta.minimum is None and meta.maximum is None:
        return None
    if meta.maximum is None and not meta.exclusive_minimum:
        return f"at least {meta.minimum:g}"
    low = "-inf" if meta.minimum is None else f"{meta.minimum:g}"
    high = "inf" if meta.maximum is None else f"{meta.maximum:g}"
    return (f"in {'(' if meta.exclusive_minimum else '['}{low}, {high}"
            f"{')' if meta.exclusive_maximum or meta.maximum is None else ']'}")


def check_value(flag: Flag, value: Any) -> Any:
    """``value`` checked against the option (ints taken for floats); ConfigError naming the flag."""
    meta, wrong = flag.option, None
    if flag.kind is date and isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{flag.flag} must be a date YYYY-MM-DD, got {value!r}") from None
    if value is None:
        if not flag.nullable:
            wrong = "set"
    elif flag.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if value is not None and (not isinstance(value, flag.kind) or (flag.kind is int and isinstance(value, bool))):
        wrong = {int: "an integer", float: "a number"}.get(flag.kind, f"a {flag.kind.__name__}")
    elif value is not None and meta.choices is not None and value not in meta.choices:
        wrong = "one of " + ", ".join(map(str, meta.choices))
    elif isinstance(value, int | float) and not isinstance(value, bool) and _interval(meta):
        low, high = meta.minimum, meta.maximum
        if ((value != value) or (low is not None and (value <= low if meta.exclusive_minimum else value < low))
                or (high is not None and (value >= high if meta.exclusive_maximum else value > high))):
            wrong = _interval(meta)
    if wrong:
        raise ConfigError(f"{flag.flag} must be {wrong}, got {value!r}")
    return meta.text(value) if meta.text and value is not None else value


def check_fields(spec: Any) -> None:
    """Every option field of a built spec within its choices and bounds."""
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        if "nested" in field.metadata:
            check_fields(value)
        elif "option" in field.metadata and not field.metadata["option"].text:
            check_value(next(f for f in flags(type(spec)) if f.name == field.name), value)


def from_values(spec_class: type, values: Mapping[str, Any], *, skip: Iterable[str] = ()) -> Any:
    """The spec from flat option values (a command's arguments, a DAG run's params): unknown names
    and bad values fail with the option's message; missing ones keep their defaults."""
    offered = {f.name: f for f in flags(spec_class, skip=skip)}
    unknown = sorted(set(values) - set(offered))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(offered)}")
    checked = {name: check_value(offered[name], value) for name, value in values.items()}
    # an unset text option (None) keeps the field's default
    return _build(spec_class, {k: v for k, v in checked.items() if v is not None or not offered[k].option.text})


def _build(spec_class: type, checked: Mapping[str, Any]) -> Any:
    hints, arguments = typing.get_type_hints(spec_class), {}
    for field in dataclasses.fields(spec_class):
        if "nested" in field.metadata:
            arguments[field.name] = _build(hints[field.name], checked)
        elif field.name in checked:
            arguments[field.name] = checked[field.name]
    spec = spec_class(**arguments)
    validate = getattr(spec, "validate", None)
    if validate is not None:
        validate()  # the checks across fields
    return spec


def _date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def add_arguments(parser: argparse.ArgumentParser, spec_class: type, *, skip: Iterable[str] = ()) -> None:
    """One flag per option; values are checked by ``from_values`` (one message style, exit 2)."""
    for flag in flags(spec_class, skip=skip):
        shown = f" (default {flag.default})" if flag.default not in (None, False, "") and "(default" not in \
            flag.option.help else ""
        if flag.kind is bool:
            parser.add_argument(flag.flag, action="store_true", help=flag.option.help)
            continue
        parse: Callable[[str], Any] = _date_arg if flag.kind is date else flag.kind
        metavar = "YYYY-MM-DD" if flag.kind is date else None if flag.option.choices else flag.name.upper()
        parser.add_argument(flag.flag, dest=flag.name, type=parse, default=flag.default, help=flag.option.help + shown,
                            choices=flag.option.choices, metavar=metavar)


def namespace_values(args: argparse.Namespace, spec_class: type, *, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The spec's options out of parsed arguments."""
    return {flag.name: getattr(args, flag.name) for flag in flags(spec_class, skip=skip)}


def param_schemas(spec_class: type, *, skip: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """The JSON schema of each option, keyed by name, with its ``default`` and ``description``:
    ``Param(schema.pop("default"), **schema)``."""
    json_type = {int: "integer", float: "number", str: "string", bool: "boolean", date: "string"}
    schemas = {}
    for flag in flags(spec_class, skip=skip):
        meta = flag.option
        schema: dict[str, Any] = {"default": flag.default, "description": meta.help,
                                  "type": [json_type[flag.kind], "null"] if flag.nullable else json_type[flag.kind]}
        if flag.kind is date:
            schema["format"] = "date"
        if meta.choices is not None:
            schema["enum"] = [*meta.choices, *([None] if flag.nullable else [])]
        for bound, exclusive, key in ((meta.minimum, meta.exclusive_minimum, "Minimum"),
                                      (meta.maximum, meta.exclusive_maximum, "Maximum")):
            if bound is not None:
                schema[f"exclusive{key}" if exclusive else key.lower()] = bound
        schemas[flag.name] = schema
    return schemas
