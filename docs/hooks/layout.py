"""The package's layout, generated (a mkdocs hook): every room (a folder of ``finsent/`` with an
``__init__.py``) and every module in it, each with the first sentence of its module docstring, put
into the architecture page where it says ``<!-- generated: layout -->``.

So the layout cannot drift from the code: a module added is listed when the docs are built, and
``tests/test_docs.py`` fails on a module without a docstring.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "finsent"
MARKER = "<!-- generated: layout -->"


@dataclass(frozen=True)
class Module:
    path: str  # relative to the repository, e.g. finsent/ml/train.py
    doc: str | None  # the module docstring; None where there is none


def modules(package: Path = PACKAGE) -> list[Module]:
    """Every Python module of the package, its rooms' ``__init__.py`` included, in path order."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        found.append(Module(path.relative_to(package.parent).as_posix(), doc.strip() if doc else None))
    return found


def missing_docstrings(package: Path = PACKAGE) -> list[str]:
    return [m.path for m in modules(package) if not m.doc]


def summary(doc: str | None) -> str:
    """The first sentence of a docstring's first paragraph, in Markdown (reST roles and double
    backquotes made plain code)."""
    if not doc:
        return "*(no docstring)*"
    paragraph = " ".join(doc.split("\n\n")[0].split())
    paragraph = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", paragraph).replace("``", "`")
    end = re.search(r"\.(?=\s+[A-Z`(])", paragraph)  # "e.g. 005930" does not end a sentence
    return (paragraph[:end.start() + 1] if end else paragraph).replace("|", "\\|")


def layout_markdown(package: Path = PACKAGE) -> str:
    """One section per room, a table of its modules (not its sub-rooms': they have their own)."""
    found = modules(package)
    rooms = sorted({str(Path(m.path).parent.as_posix()) for m in found if m.path.endswith("/__init__.py")})
    parts = []
    for room in rooms:
        own = [m for m in found if Path(m.path).parent.as_posix() == room]
        init = next((m for m in own if m.path.endswith("/__init__.py")), None)
        subrooms = [r for r in rooms if Path(r).parent.as_posix() == room]
        parts.append(f"### `{room}/`\n\n{summary(init.doc if init else None)}\n")
        rows = [f"| `{Path(m.path).name}` | {summary(m.doc)} |" for m in own if m is not init]
        rows += [f"| `{Path(r).name}/` | a room: [below](#{_anchor(r)}) |" for r in subrooms]
        if rows:
            parts.append("| module | what it holds |\n|---|---|\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


def _anchor(room: str) -> str:
    """The id mkdocs' toc gives the heading ``### `ROOM/` `` (its default slugify)."""
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", f"{room}/").strip().lower())


def on_page_markdown(markdown, page, config, files):  # mkdocs: fill the architecture page's layout
    if MARKER in markdown:
        return markdown.replace(MARKER, layout_markdown())
    return markdown
