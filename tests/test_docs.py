"""The docs site: built strictly in the suite (a broken link or page fails it), its CLI reference
generated from the parser (every command and option), its schema page from the migrations'
comments (every table and column of a migrated database, each with a comment), and no link that
leaves a clone of the repository."""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("docs_reference", ROOT / "docs" / "hooks" / "reference.py")
reference = importlib.util.module_from_spec(_SPEC)  # the docs' generator: a mkdocs hook file, not a package
sys.modules["docs_reference"] = reference  # its dataclasses look their module up there
_SPEC.loader.exec_module(reference)

pytest.importorskip("material", reason="mkdocs-material is not installed (pip install -e '.[test]')")


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], cwd=config.parent, env=env, check=False, capture_output=True,
                          text=True, timeout=300)


def test_the_docs_build_strictly(tmp_path):
    done = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    schema = (tmp_path / "site" / "reference" / "schema" / "index.html").read_text(encoding="utf-8")
    assert "finsent export" in cli and "daily_sentiment" in schema and "synthetic_data" in schema
    assert (tmp_path / "site" / "benchmarks" / "index.html").is_file()


def test_a_broken_link_fails_the_strict_build(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    (copy / "docs" / "index.md").write_text("# finsent\n\n[the study](../shared/study/STUDY.md)\n")
    done = _build(copy / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0 and "STUDY.md" in done.stderr


def test_no_page_links_outside_the_repository():
    pages = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
    links = [(p.name, target) for p in pages for target in re.findall(r"\]\(([^)]+)\)", p.read_text(encoding="utf-8"))]
    assert links and not [link for link in links if "shared/" in link[1] or link[1].startswith("/")], links


def test_the_cli_reference_has_every_command_and_option():
    from finsent.cli import build_parser

    page = reference.cli_markdown()
    walked = 0
    stack = [("finsent", build_parser())]
    while stack:
        path, parser = stack.pop()
        for action in parser._actions:
            for flag in () if isinstance(action, argparse._HelpAction) else action.option_strings:
                assert f"`{flag}`" in page, (path, flag)
        for name, sub, _ in reference._subcommands(parser):
            assert f"`{path} {name}`" in page
            stack.append((f"{path} {name}", sub))
            walked += 1
    assert walked > 25 and "`--model-version`" in page and "`--from`" in page


def test_the_schema_page_is_every_table_and_column_of_a_migrated_database(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT c.relname, a.attname, obj_description(c.oid, 'pg_class') IS NOT NULL AS table_comment,
                   col_description(c.oid, a.attnum) IS NOT NULL AS column_comment
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') ORDER BY 1, a.attnum""")).all()
    uncommented = sorted({r.relname for r in rows if not r.table_comment}
                         | {f"{r.relname}.{r.attname}" for r in rows if not r.column_comment})
    assert uncommented == [], f"add COMMENT ON TABLE/COLUMN for these in a new migration: {uncommented}"
    schema = reference.read_schema()
    in_database = {(r.relname, r.attname) for r in rows}
    documented = {(name, column) for name, relation in schema.items() for column in relation.columns}
    assert documented == in_database
    page = reference.schema_markdown()
    assert all(f"## {name}\n" in page for name in {r.relname for r in rows})
    untyped = [(n, c) for n, r in schema.items() if r.kind == "table" for c, kind in r.columns.items() if not kind]
    assert untyped == []
