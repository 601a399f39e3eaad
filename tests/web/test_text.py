"""Hostile text made inert before the page escapes it (finsent.web.text)."""

from __future__ import annotations

from finsent.web.text import plain_text


def test_bidi_controls_go_and_whitespace_runs_become_one_space():
    assert plain_text("삼성\u202e전자\n\t 우\u2066선주 ") == "삼성전자 우선주"
    assert plain_text("") == ""
