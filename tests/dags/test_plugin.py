"""The Sentiment page: registered as the `finsent` plugin, rendered server-side, hostile titles as text,
and looked at in headless Chromium (a screenshot is saved)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from finsent.config import load_settings
from finsent.ml.score import score_posts
from finsent.ml.train import train_model
from tests.dags.conftest import ROOT
from tests.data.board import add_posts, post

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)> 삼성 & \"가즈아\""


def test_the_plugin_is_registered(airflow_db):
    done = subprocess.run([sys.executable, "-m", "airflow", "plugins", "--output", "json"], check=False,
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"name": "finsent"' in done.stdout and "Sentiment" in done.stdout and "/finsent" in done.stdout


@pytest.fixture
def scored_board(engine, planted):
    add_posts(engine, [post("005930", datetime(2024, 4, 10, 20, 0), HOSTILE, post_id=10**9)])
    settings = load_settings()
    train_model(settings, engine, planted, "baseline")
    score_posts(settings, engine)
    return engine


def _app():
    sys.path.insert(0, str(ROOT / "plugins"))
    import finsent_plugin

    finsent_plugin._engine.cache_clear()
    return finsent_plugin.app


def test_page_shows_index_posts_and_champion_with_hostile_titles_escaped(scored_board):
    from fastapi.testclient import TestClient

    response = TestClient(_app()).get("/sentiment")
    assert response.status_code == 200
    page = response.text
    assert "script-src" not in response.headers["content-security-policy"]  # no script may run at all
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "champion: <b>finsent-updown v1</b>" in page and "open in MLflow" in page
    assert "<svg" in page and "005930" in page and "000660" in page
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    one = TestClient(_app()).get("/sentiment", params={"ticker": "000660"}).text
    assert "000660" in one and "<h2>005930" not in one


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed (.ci/run installs it)")
def test_page_in_headless_chromium(scored_board, tmp_path):
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,1400"]
        url = f"http://127.0.0.1:{port}/sentiment"
        shot = Path(os.environ.get("FINSENT_SCREENSHOT", tmp_path / "sentiment.png"))
        subprocess.run(["chromium", *flags, f"--screenshot={shot}", url], check=False, capture_output=True, timeout=120)
        assert shot.is_file() and shot.stat().st_size > 10_000
        dom = subprocess.run(["chromium", *flags, "--dump-dom", url], check=False, capture_output=True, text=True,
                             timeout=120).stdout
        assert "Sentiment" in dom and "<script>alert" not in dom and "&lt;script&gt;" in dom
    finally:
        server.should_exit = True
        thread.join(timeout=10)
