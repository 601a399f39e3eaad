"""The docs site: built strictly in the suite (a broken link or page fails it), its CLI reference
generated from the parser (every command and option), its schema page from the migrations'
comments (every table and column of a migrated database, each with a comment), its architecture
page's layout from the package (every module, each with a docstring), and no link that leaves a
clone of the repository. The README stays a short front page whose every link resolves."""

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
_LAYOUT_SPEC = importlib.util.spec_from_file_location("docs_layout", ROOT / "docs" / "hooks" / "layout.py")
layout = importlib.util.module_from_spec(_LAYOUT_SPEC)
sys.modules["docs_layout"] = layout
_LAYOUT_SPEC.loader.exec_module(layout)
README_LIMIT = 12 * 1024  # issue 33: a README of about 10 KB; everything else lives in docs/

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
    benchmarks = (tmp_path / "site" / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "bench/ingest.py" in benchmarks and "56,476 posts/s" in benchmarks  # the scripts and the figures
    architecture = (tmp_path / "site" / "architecture" / "index.html").read_text(encoding="utf-8")
    assert "generated: layout" not in architecture and "finsent/ml/study/" in architecture
    assert "Walk each ticker" in architecture or "walk each ticker" in architecture  # a module's docstring


def test_a_broken_link_fails_the_strict_build(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    (copy / "docs" / "index.md").write_text("# finsent\n\n[the study](../shared/study/STUDY.md)\n")
    done = _build(copy / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0 and "STUDY.md" in done.stderr


def test_the_readme_is_a_short_front_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode("utf-8")) < README_LIMIT, "the README grew: move the detail into docs/"
    assert all(f"make {target}" in readme for target in ("up", "demo", "test", "docs"))
    assert "](docs/architecture.md)" in readme and "](docs/sentiment-demo.png)" in readme


def _relative_links(page: Path) -> list[str]:
    """The targets of a page's Markdown links and images that are paths (no scheme, no bare anchor)."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)  # code is not a link
    targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_every_relative_link_of_the_readme_and_the_docs_resolves():
    generated = {ROOT / "docs" / path for path in reference.PAGES}  # made by the hook when the site builds
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken, checked = [], 0
    for page in pages:
        for target in _relative_links(page):
            path = (page.parent / target.split("#")[0]).resolve()
            checked += 1
            if not path.is_relative_to(ROOT) or not (path.exists() or path in generated):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert checked > 40 and broken == []


def test_a_broken_relative_link_is_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[ok](page.md) [gone](missing.md#part) [web](https://example.org) [here](#top)\n"
                    "```\n[in code](nowhere.md)\n```\n")
    assert _relative_links(page) == ["page.md", "missing.md#part"]


def test_every_module_of_the_package_has_a_docstring():
    assert layout.missing_docstrings() == [], "give each module a docstring: the architecture page lists it"


def test_the_generated_layout_lists_every_room_and_module():
    page = layout.layout_markdown()
    modules = sorted((ROOT / "finsent").rglob("*.py"))
    assert len(modules) > 100
    for path in modules:
        relative = path.relative_to(ROOT).as_posix()
        if path.name == "__init__.py":
            assert f"### `{Path(relative).parent.as_posix()}/`\n" in page, relative
        else:
            room = Path(relative).parent.as_posix()
            section = page.split(f"### `{room}/`\n", 1)[1].split("\n### ", 1)[0]
            assert f"| `{path.name}` |" in section, relative


def test_the_layout_says_when_a_module_lacks_a_docstring(tmp_path):
    package = tmp_path / "pkg"
    (package / "room").mkdir(parents=True)
    (package / "__init__.py").write_text('"""The package. More here."""\n')
    (package / "room" / "__init__.py").write_text('"""A room: it holds things, e.g. one module."""\n')
    (package / "room" / "mute.py").write_text("x = 1\n")
    assert layout.missing_docstrings(package) == ["pkg/room/mute.py"]
    page = layout.layout_markdown(package)
    assert "### `pkg/`\n\nThe package.\n" in page and "A room: it holds things, e.g. one module." in page
    assert "| `mute.py` | *(no docstring)* |" in page and "| `room/` | a room" in page


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
