"""The docs' screenshots of every view, regenerated from a running stack in headless Chromium.

    make demo && make screenshots      # or: python docs/screenshots.py [--data-dir DIR] [--out docs]

Reads the stack's Airflow port (``run/stack.env``) and its admin password from the data folder
(default ``FINSENT_DATA_DIR``, ``make screenshots``: ``data/demo``), logs in (the ``_token``
cookie the UI's login leaves), and saves, at 1280 px wide, in KST (the browser's time zone, which
Airflow 3's UI shows): the Sentiment overview of the board (``sentiment-demo.png``) and of the
news (``sentiment-news.png``), one stock's page of each (``sentiment-stock.png``,
``sentiment-news-stock.png``), the newest study's whole grid (``sentiment-study.png``), the Models
page (``sentiment-models.png``) and Airflow's DAG list
(``airflow-dags.png``). Each page must load (200), show no chart label over a chart or another
label, and the overview must fit two laptop screens (1,600 px); otherwise it exits 1 saying which.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.dags.chromium import OVERLAPS, Chromium  # noqa: E402 -- the repository's own browser driver

log = logging.getLogger("finsent.screenshots")
TWO_LAPTOP_SCREENS = 1600
# file -> (path under the Airflow host, wait for the UI's scripts to render, the page's own checks)
VIEWS = {
    "sentiment-demo.png": ("/finsent/sentiment", 0, True),
    "sentiment-stock.png": ("/finsent/sentiment?ticker={ticker}", 0, False),
    "sentiment-news.png": ("/finsent/sentiment?source=news", 0, True),
    "sentiment-news-stock.png": ("/finsent/sentiment?source=news&ticker={ticker}", 0, False),
    "sentiment-study.png": ("/finsent/sentiment?view=study", 0, False),
    "sentiment-models.png": ("/finsent/models", 0, False),
    "airflow-dags.png": ("/dags", 6, False),
}


def login(base: str, data_dir: Path) -> str:
    passwords = data_dir / "airflow" / "simple_auth_manager_passwords.json.generated"
    password = json.loads(passwords.read_text())["admin"]
    request = urllib.request.Request(f"{base}/auth/token", method="POST",
                                     data=json.dumps({"username": "admin", "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["access_token"]


def take(base: str, token: str, out: Path, ticker: str) -> list[str]:
    """Every view's screenshot; the problems found (none: [])."""
    problems = []
    # Chromium may still be writing its profile as it exits
    with tempfile.TemporaryDirectory(prefix="finsent-shots-", ignore_cleanup_errors=True) as profile:
        browser = Chromium(Path(profile), 1280, 800, time_zone="Asia/Seoul")
        try:
            browser.call("Network.setCookie", session=True, name="_token", value=token, url=f"{base}/",
                         httpOnly=True)
            for name, (path, settle_s, overview) in VIEWS.items():
                status = browser.open(base + path.format(ticker=ticker))
                time.sleep(settle_s)
                browser.screenshot(out / name)
                height = browser.evaluate("document.documentElement.scrollHeight")
                overlaps = browser.evaluate(OVERLAPS) if name.startswith("sentiment") else []
                log.info("%s: HTTP %d, %d px tall, %s", name, status, height, out / name)
                if status != 200:
                    problems.append(f"{name}: HTTP {status}")
                if overlaps:
                    problems.append(f"{name}: labels overlap: {overlaps[:3]}")
                if overview and height > TWO_LAPTOP_SCREENS:
                    problems.append(f"{name}: {height} px tall, more than two laptop screens ({TWO_LAPTOP_SCREENS})")
        finally:
            browser.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("FINSENT_DATA_DIR", "data/demo")),
                        help="the running stack's data folder (default FINSENT_DATA_DIR, else data/demo)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go (default docs/)")
    parser.add_argument("--ticker", default="005930", help="the stock whose pages are shown (default 005930)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state = args.data_dir / "run" / "stack.env"
    if not state.is_file():
        log.error("no running stack under %s: run `make demo` (or `finsent stack up`) first", args.data_dir)
        return 2
    base = f"http://127.0.0.1:{json.loads(state.read_text())['AIRFLOW__API__PORT']}"
    problems = take(base, login(base, args.data_dir), args.out, args.ticker)
    for problem in problems:
        log.error("%s", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
