"""The Sentiment page: registered as the `finsent` plugin, served by Airflow's real API app only to
logged-in users, rendered server-side, hostile titles as text, and looked at in headless Chromium
(logged in; a screenshot is saved)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from finsent.config import load_settings
from finsent.ml.score import score_posts
from finsent.ml.train import train_model
from tests.dags.chromium import OVERLAPS
from tests.dags.conftest import ROOT
from tests.data.board import add_posts, post

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)> 삼성 & \"가즈아\""
SPOOFED = "\u202eevil\u202c " + "길다 " * 60  # a right-to-left override, and a title far too long
TIMING_PARTS = ("(() => { const n = performance.getEntriesByType('navigation')[0]; return {server: "
                "n.responseStart - n.requestStart, transfer: n.responseEnd - n.responseStart, "
                "render: n.loadEventEnd - n.responseEnd}; })()")
PASSWORDS = {"admin": "finsent-test-admin-pw", "viewer": "finsent-test-viewer-pw"}
TWO_LAPTOP_SCREENS = 1600  # px: two screens of a 1280 x 800 laptop


def test_the_plugin_is_registered(airflow_db):
    done = subprocess.run([sys.executable, "-m", "airflow", "plugins", "--output", "json"], check=False,
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"name": "finsent"' in done.stdout and "Sentiment" in done.stdout and "/finsent" in done.stdout


@pytest.fixture(scope="module")
def airflow_app(airflow_db, tmp_path_factory) -> Iterator:
    """Airflow's own API app (create_app: auth manager, core API, plugins mounted) with two users."""
    passwords = tmp_path_factory.mktemp("auth") / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    settings = {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
                "AIRFLOW__API_AUTH__JWT_SECRET": "finsent-test-" + "j" * 64}
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    from airflow.api_fastapi.app import create_app

    yield create_app()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _token(client, user: str = "admin") -> str:
    response = client.post("/auth/token", json={"username": user, "password": PASSWORDS[user]})
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


@pytest.fixture
def scored_board(engine, planted):
    add_posts(engine, [post("005930", datetime(2024, 4, 10, 20, 0), HOSTILE, post_id=10**9),
                       post("005930", datetime(2024, 4, 10, 20, 1), SPOOFED, post_id=10**9 + 1)])
    settings = load_settings()
    train_model(settings, engine, planted, "baseline")
    score_posts(settings, engine)
    return engine


def test_anonymous_callers_get_401_and_logged_in_users_the_page(airflow_app, scored_board):
    from fastapi.testclient import TestClient

    client = TestClient(airflow_app)
    for path in ("/finsent/sentiment", "/finsent/sentiment?ticker=005930", "/finsent/openapi.json",
                 "/finsent/docs"):
        response = client.get(path)
        assert response.status_code in (401, 404), (path, response.status_code)
        assert "Sentiment" not in response.text
    assert client.get("/finsent/sentiment").status_code == 401
    assert client.get("/finsent/sentiment", headers={"Authorization": "Bearer not-a-token"}).status_code in (401, 403)

    for user in ("admin", "viewer"):  # a viewer may read DAGs and see plugins
        response = client.get("/finsent/sentiment", headers={"Authorization": f"Bearer {_token(client, user)}"})
        assert response.status_code == 200, (user, response.text[:300])
        assert "champion: <b>finsent-updown v1</b>" in response.text
    cookie_client = TestClient(airflow_app)
    cookie_client.cookies.set("_token", _token(client))  # what the UI's login leaves in the browser
    assert cookie_client.get("/finsent/sentiment").status_code == 200


def test_the_app_fails_closed_without_airflows_auth_dependencies(airflow_db):
    code = (
        "import sys; sys.modules['airflow.api_fastapi.core_api.security'] = None\n"  # an Airflow without them
        f"sys.path.insert(0, {str(ROOT / 'plugins')!r})\n"
        "import finsent_plugin\n"
        "from fastapi.testclient import TestClient\n"
        "r = TestClient(finsent_plugin.app).get('/sentiment')\n"
        "print(r.status_code, 'Sentiment' in r.text)\n")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120,
                          env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "503 False"


def test_page_shows_index_posts_and_champion_with_hostile_titles_escaped(airflow_app, scored_board):
    from fastapi.testclient import TestClient

    client = TestClient(airflow_app)
    client.headers["Authorization"] = f"Bearer {_token(client)}"
    overview = client.get("/finsent/sentiment").text
    assert "champion: <b>finsent-updown v1</b>" in overview and "open in MLflow" in overview
    assert "<svg" in overview and "005930" in overview and "000660" in overview
    assert 'href="api/daily-sentiment?source=board&amp;model_version=1&amp;format=csv"' in overview
    response = client.get("/finsent/sentiment", params={"ticker": "005930"})  # the posts are on the stock's page
    assert response.status_code == 200
    page = response.text
    assert "script-src" not in response.headers["content-security-policy"]  # no script may run at all
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "mean P(up)" in page and "close" in page  # both axes are labelled
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "\u202e" not in page and "\u202c" not in page  # bidi controls neutralised
    assert "evil 길다" in page and "…" in page and "길다 " * 60 not in page  # cut with an ellipsis
    one = client.get("/finsent/sentiment", params={"ticker": "000660"}).text
    assert "<h2>000660" in one and "<h2>005930" not in one
    assert "&amp;ticker=000660&amp;format=parquet" in one  # its downloads are its own


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app, port: int):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    return server, thread


def login_redirector(token: str, target: str) -> HTTPServer:
    """A one-page helper on 127.0.0.1 (cookies ignore ports) that hands the browser the JWT cookie
    Airflow's login issued, then sends it on to ``target``: Chromium arrives logged in."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Set-Cookie", f"_token={token}; Path=/; HttpOnly; SameSite=Lax")
            self.send_header("Location", target)
            self.end_headers()

        def log_message(self, format: str, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed (.ci/run installs it)")
def test_page_in_headless_chromium_logged_in(airflow_app, scored_board, tmp_path):
    from fastapi.testclient import TestClient

    port = _free_port()
    server, thread = _serve(airflow_app, port)
    url = f"http://127.0.0.1:{port}/finsent/sentiment?ticker=005930"  # the stock's page: its posts
    redirector = login_redirector(_token(TestClient(airflow_app)), url)
    try:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1100,1400"]
        chrome = lambda profile, *args: subprocess.run(
            ["chromium", *flags, f"--user-data-dir={tmp_path / profile}", *args], check=False, capture_output=True,
            text=True, timeout=120)
        anonymous = chrome("anonymous", "--dump-dom", url).stdout
        assert "Not authenticated" in anonymous and "<h1>Sentiment" not in anonymous
        login = f"http://127.0.0.1:{redirector.server_port}/"
        shot = Path(os.environ.get("FINSENT_SCREENSHOT", tmp_path / "sentiment.png"))
        chrome("shot", f"--screenshot={shot}", login)
        assert shot.is_file() and shot.stat().st_size > 10_000
        dom = chrome("dom", "--dump-dom", login).stdout
        assert "<h1>Sentiment" in dom and "<script>alert" not in dom and "&lt;script&gt;" in dom
    finally:
        redirector.shutdown()
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed (.ci/run installs it)")
def test_a_year_of_twenty_stocks_loads_in_under_a_second_in_chromium(airflow_app, engine, settings, tmp_path):
    """The browser's own navigation timing (request to the end of the load event), logged in, the
    best of three loads of a warm server; screenshots land in FINSENT_SCREENSHOT_DIR when set."""
    from fastapi.testclient import TestClient

    from tests.dags.chromium import Chromium
    from tests.web.year_board import STOCKS, register_champion, seed

    board = seed(engine)
    register_champion(settings, board["seen_through"])
    port = _free_port()
    server, thread = _serve(airflow_app, port)
    base = f"http://127.0.0.1:{port}/finsent"
    browser = Chromium(tmp_path / "profile", 1280, 800)
    try:
        assert browser.open(f"{base}/sentiment") == 401  # anonymous: no page
        browser.call("Network.setCookie", session=True, name="_token", value=_token(TestClient(airflow_app)),
                     url=f"http://127.0.0.1:{port}/", httpOnly=True)
        timings, parts = [], []
        for _ in range(3):
            assert browser.open(f"{base}/sentiment") == 200
            timings.append(browser.load_ms())
            parts.append(browser.evaluate(TIMING_PARTS))
        rows = browser.evaluate("document.querySelectorAll('table.overview tbody tr').length")
        sparks = browser.evaluate("document.querySelectorAll('svg.spark').length")
        charts = browser.evaluate("document.querySelectorAll('svg:not(.spark)').length")
        blocked = browser.evaluate("document.querySelectorAll('script').length")
        # the budget is 1 s on a machine that is not oversubscribed; a shared one (load above its
        # cores) stretches every wall-clock time by about load / cores, and so does the budget
        slowdown = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
        sys.stderr.write(f"\n{STOCKS} stocks x 1 year: page load {min(timings):.0f} ms (best of {timings}; "
                         f"{parts}; load / cores {slowdown:.1f})\n")
        assert rows == STOCKS and sparks == STOCKS and charts == 2 and blocked == 0
        assert min(timings) < 1000 * slowdown, (timings, parts, slowdown)
        shots = Path(os.environ.get("FINSENT_SCREENSHOT_DIR", tmp_path))
        assert browser.screenshot(shots / "sentiment-year-overview.png").stat().st_size > 10_000
        height, width = browser.evaluate("[document.documentElement.scrollHeight, "
                                         "document.documentElement.scrollWidth]")
        assert height <= TWO_LAPTOP_SCREENS and width <= 1280, (height, width)  # 1280 x 800: two screens, no scroll
        assert browser.evaluate(OVERLAPS) == []
        code = board["codes"][0]
        assert browser.open(f"{base}/sentiment?ticker={code}") == 200
        assert browser.evaluate("document.querySelectorAll('section h2').length") == 1
        assert browser.evaluate(OVERLAPS) == []  # the index chart: its legend and the 0.5 line's name too
        browser.screenshot(shots / "sentiment-year-stock.png")
        assert browser.open(f"{base}/models") == 200
        assert "finsent-updown" in browser.evaluate("document.body.innerText")
        browser.screenshot(shots / "sentiment-year-models.png")
    finally:
        browser.close()
        server.should_exit = True
        thread.join(timeout=10)
