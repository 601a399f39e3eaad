"""The docs' generated pages (a mkdocs hook): the CLI reference from the command line's own parser
(every command's description, usage and options, as ``--help`` has them: the option specs of
``finsent.specs`` included), the data schema from the migrations' ``COMMENT ON`` statements
(sql/*.sql, in order: a later comment replaces an earlier one), with each column's type as created,
and, on the benchmarks page, the list of bench/*.py from their docstrings (where the page says
``<!-- generated: bench scripts -->``; the measured figures beside it are written by hand).

Nothing here is written by hand and nothing generated is committed: ``mkdocs build`` generates it.
``tests/test_docs.py`` checks it against the parser and against a migrated database. The package's
layout on the architecture page comes from the sibling hook ``layout.py``.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = {"reference/cli.md": "cli_markdown", "reference/schema.md": "schema_markdown"}
BENCH_MARKER = "<!-- generated: bench scripts -->"


# -- the CLI ------------------------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser, str]]:
    """(name, parser, one-line help) of each subcommand, in the order the parser lists them."""
    found = []
    for action in parser._actions:  # argparse offers no public walk of its subparsers
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            found += [(name, sub, helps.get(name, "")) for name, sub in action.choices.items()]
    return found


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _options_table(parser: argparse.ArgumentParser) -> str:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        name = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.metavar or action.dest}`"
        if action.choices and not isinstance(action.choices, dict):
            name += " " + "\\|".join(f"`{c}`" for c in action.choices)
        default = action.default
        shown = "" if default in (None, False, "", argparse.SUPPRESS) or action.required else f"`{default}`"
        rows.append(f"| {name} | {_cell(action.help or '')} | {'yes' if action.required else ''} | {shown} |")
    if not rows:
        return ""
    return "| option | meaning | required | default |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"


def _command_markdown(path: str, parser: argparse.ArgumentParser, summary: str, depth: int) -> list[str]:
    parts = [f"{'#' * min(depth, 4)} `{path}`\n"]
    if summary:
        parts.append(f"*{summary}*\n")
    if parser.description:
        parts.append(parser.description.strip() + "\n")
    parser.prog = path
    parts.append("```text\n" + parser.format_usage().strip() + "\n```\n")
    table = _options_table(parser)
    if table:
        parts.append(table)
    for name, sub, help_text in _subcommands(parser):
        parts += _command_markdown(f"{path} {name}", sub, help_text, depth + 1)
    return parts


def cli_markdown() -> str:
    from finsent.cli import build_parser

    parser = build_parser()
    head = ["# CLI reference\n",
            "Generated from `finsent`'s own parser when the docs are built (`docs/hooks/reference.py`): every "
            "command, its description, usage and options, as `--help` prints them. Exit codes: 0 ok, 1 a run "
            "had failures, 2 bad input or configuration (one line, no traceback).\n",
            "```text\n" + parser.format_usage().strip() + "\n```\n", _options_table(parser)]
    body = []
    for name, sub, help_text in _subcommands(parser):
        body += _command_markdown(f"finsent {name}", sub, help_text, 2)
    return "\n".join(head + body)


# -- the schema ---------------------------------------------------------------------------------------


@dataclass
class Relation:
    name: str
    kind: str  # table or view
    migration: str
    comment: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # name -> type ("" where not known)
    comments: dict[str, str] = field(default_factory=dict)


def strip_sql_comments(sql: str) -> str:
    """The SQL without its ``--`` comments (quotes respected: a ``--`` inside a string stays)."""
    out, quoted, i = [], False, 0
    while i < len(sql):
        char = sql[i]
        if char == "'":
            quoted = not quoted
        elif not quoted and sql.startswith("--", i):
            i = sql.find("\n", i)
            if i < 0:
                break
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _literal(text: str) -> str:
    """Adjacent SQL string literals ('a' 'b'), joined and unescaped."""
    return "".join(piece.replace("''", "'") for piece in re.findall(r"'((?:[^']|'')*)'", text))


def _top_level_split(body: str) -> list[str]:
    parts, depth, current, quoted = [], 0, [], False
    for char in body:
        if char == "'":
            quoted = not quoted
        if not quoted and char in "()":
            depth += 1 if char == "(" else -1
        if char == "," and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


_NOT_COLUMNS = {"primary", "unique", "check", "constraint", "foreign", "exclude"}
_TYPE_ENDS = re.compile(r"\s+(NOT|NULL|DEFAULT|PRIMARY|REFERENCES|CHECK|GENERATED|UNIQUE|CONSTRAINT|COLLATE)\b",
                        re.IGNORECASE)


def _column(definition: str) -> tuple[str, str] | None:
    match = re.match(r"(\w+)\s+(.*)", definition, re.DOTALL)
    if match is None or match.group(1).lower() in _NOT_COLUMNS:
        return None
    kind = _TYPE_ENDS.split(match.group(2), maxsplit=1)[0]
    return match.group(1), " ".join(kind.split())


def _apply(relations: dict[str, Relation], sql: str, migration: str) -> None:
    for match in re.finditer(r"CREATE\s+(?:OR\s+REPLACE\s+)?(TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s*"
                             r"(\((.*?)\)\s*;|AS)", sql, re.IGNORECASE | re.DOTALL):
        kind, name = match.group(1).lower(), match.group(2)
        relation = relations.setdefault(name, Relation(name, kind, migration))
        for definition in _top_level_split(match.group(4) or ""):
            column = _column(definition)
            if column:
                relation.columns.setdefault(*column)
    for match in re.finditer(r"ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(\w+)\s+(.*?);", sql, re.IGNORECASE | re.DOTALL):
        relation = relations.get(match.group(1))
        for action in _top_level_split(match.group(2)) if relation else ():
            added = re.match(r"ADD\s+COLUMN\s+(?:IF\s+NOT\s+EXISTS\s+)?(.*)", action, re.IGNORECASE | re.DOTALL)
            dropped = re.match(r"DROP\s+COLUMN\s+(?:IF\s+EXISTS\s+)?(\w+)", action, re.IGNORECASE)
            renamed = re.match(r"RENAME\s+COLUMN\s+(\w+)\s+TO\s+(\w+)", action, re.IGNORECASE)
            if added and (column := _column(added.group(1))):
                relation.columns.setdefault(*column)
            elif dropped:
                relation.columns.pop(dropped.group(1), None)
                relation.comments.pop(dropped.group(1), None)
            elif renamed:
                old, new = renamed.groups()
                relation.columns[new] = relation.columns.pop(old, "")
                if old in relation.comments:
                    relation.comments[new] = relation.comments.pop(old)
    for match in re.finditer(r"DROP\s+(?:TABLE|VIEW)\s+(?:IF\s+EXISTS\s+)?(\w+)", sql, re.IGNORECASE):
        relations.pop(match.group(1), None)
    for match in re.finditer(r"COMMENT\s+ON\s+(TABLE|VIEW|COLUMN)\s+([\w.]+)\s+IS\s+((?:'(?:[^']|'')*'\s*)+);",
                             sql, re.IGNORECASE | re.DOTALL):
        target, text = match.group(2), _literal(match.group(3))
        if match.group(1).upper() == "COLUMN":
            table, column = target.split(".")
            relation = relations.setdefault(table, Relation(table, "table", migration))
            relation.columns.setdefault(column, "")
            relation.comments[column] = text
        else:
            relations.setdefault(target, Relation(target, match.group(1).lower(), migration)).comment = text


def read_schema(sql_dir: Path = ROOT / "sql", before: str = "") -> dict[str, Relation]:
    """Every table and view the migrations leave, with its comments (and ``schema_migrations``,
    which ``finsent db upgrade`` creates before the first migration)."""
    relations = {"schema_migrations": Relation("schema_migrations", "table", "finsent db upgrade", columns={
        "version": "integer", "name": "text", "checksum": "text", "applied_at": "timestamptz"})}
    for path in sorted(sql_dir.glob("*.sql")):
        _apply(relations, strip_sql_comments(path.read_text(encoding="utf-8")), path.name)
    return relations


def schema_markdown() -> str:
    relations = read_schema()
    parts = ["# Data schema\n",
             "Generated from the migrations' `COMMENT ON` statements (`sql/*.sql`) when the docs are built "
             "(`docs/hooks/reference.py`): every table and view of a migrated database, what it holds, and each "
             "column with its type as created. `finsent db upgrade` applies the migrations; Postgres shows the "
             "same comments (`\\d+ TABLE` in psql).\n",
             "| table | what it holds |\n|---|---|\n"
             + "\n".join(f"| [`{r.name}`](#{r.name}) | {_cell(r.comment.split('. ')[0])} |"
                         for r in sorted(relations.values(), key=lambda r: r.name)) + "\n"]
    for relation in sorted(relations.values(), key=lambda r: r.name):
        kind = "view" if relation.kind == "view" else "table"
        parts.append(f"## {relation.name}\n\n*{kind}, since `{relation.migration}`*\n\n{relation.comment}\n")
        rows = [f"| `{name}` | {_cell(kind_) or ''} | {_cell(relation.comments.get(name, ''))} |"
                for name, kind_ in relation.columns.items()]
        parts.append("| column | type | meaning |\n|---|---|---|\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


# -- the benchmarks -----------------------------------------------------------------------------------


def bench_scripts_markdown() -> str:
    """A section listing every bench/*.py with its docstring (what it measures, how to run it)."""
    import ast

    parts = ["## The scripts\n",
             "Generated from each script's docstring when the docs are built (`docs/hooks/reference.py`).\n"]
    for path in sorted((ROOT / "bench").glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        if path.stem in ("__init__", "common") or not doc:
            continue
        parts.append(f"### `bench/{path.name}`\n\n```text\n{doc.strip()}\n```\n")
    return "\n".join(parts)


# -- the mkdocs hook ----------------------------------------------------------------------------------


def generated_pages() -> dict[str, str]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return {path: globals()[name]() for path, name in PAGES.items()}


def on_files(files, config):  # mkdocs: add the generated pages to the site
    from mkdocs.structure.files import File

    for path, content in generated_pages().items():
        files.append(File.generated(config, path, content=content))
    return files


def on_page_markdown(markdown, page, config, files):  # mkdocs: the benchmarks page's list of scripts
    if BENCH_MARKER in markdown:
        return markdown.replace(BENCH_MARKER, bench_scripts_markdown())
    return markdown
