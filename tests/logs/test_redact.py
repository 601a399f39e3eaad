"""No password of a URL reaches a log line, an unescaped '@' in it included."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy.engine import make_url

from finsent.db import normalise_url
from finsent.logs.redact import mask_urls


def test_mask_urls_hides_every_password():
    assert mask_urls("postgresql://u:p@ss@127.0.0.1/db") == "postgresql://u:***@127.0.0.1/db"
    assert mask_urls("at postgresql+psycopg2://u:p/w@h:5432/db?x=1 and 'http://a:b@c/'") == \
        "at postgresql+psycopg2://u:***@h:5432/db?x=1 and 'http://a:***@c/'"
    assert mask_urls("http://127.0.0.1:5000/path and postgresql://u@h/db") == \
        "http://127.0.0.1:5000/path and postgresql://u@h/db"  # nothing secret: unchanged


def test_an_unescaped_at_in_the_password_ends_at_the_last_at():
    url = make_url(normalise_url("postgresql://u:p@ss@127.0.0.1/db"))
    assert (url.username, url.password, url.host, url.database) == ("u", "p@ss", "127.0.0.1", "db")


def test_the_cli_never_logs_the_passwords_tail(tmp_path):
    """Before: 'could not translate host name "ssTAIL@127.0.0.1"' put the password's tail in the log."""
    env = {**os.environ, "FINSENT_DATABASE_URL": "postgresql://nosuchrole:p@ssTAIL@127.0.0.1:5432/postgres",
           "FINSENT_ENV_FILE": str(tmp_path / "none"), "FINSENT_DATA_DIR": str(tmp_path / "data")}
    for args in (["tickers", "list"], ["db", "status"]):
        result = subprocess.run([sys.executable, "-m", "finsent.cli", *args], env=env, check=False,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert "ssTAIL" not in result.stderr + result.stdout and "p@ss" not in result.stderr + result.stdout
        assert "nosuchrole" in result.stderr  # the server's own reason is still there
