"""The package says which version it is: the one pyproject.toml releases."""

from __future__ import annotations

import tomllib
from pathlib import Path

import finsent


def test_the_version_is_the_projects():
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    assert finsent.__version__ == project["version"]
