"""Headless Debian Chromium driven over the DevTools protocol (the ``websockets`` client already in
the environment): set the login cookie, open a page, read the browser's own navigation timing, and
take full-page screenshots. Only the browser runs our pages; nothing here needs a CDN."""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

# Every chart's labels as the browser lays them out: no label over the plot area (the lines), no two
# labels over each other. Answers the offending pairs (none: []).
OVERLAPS = """(() => {
  const hit = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5
                        && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const bad = [];
  for (const svg of document.querySelectorAll('svg')) {
    if (!svg.querySelector('rect.plot')) continue;  // a sparkline or an icon: no labels
    const plot = svg.querySelector('rect.plot').getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
    texts.forEach(([name, box], i) => {
      if (hit(box, plot)) bad.push(name + ' over the plot of ' + svg.getAttribute('aria-label'));
      texts.slice(i + 1).forEach(([other, box2]) => { if (hit(box, box2)) bad.push(name + ' over ' + other); });
    });
  }
  return bad;
})()"""

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]


class Chromium:
    def __init__(self, profile: Path, width: int = 1280, height: int = 1000, time_zone: str | None = None) -> None:
        from websockets.sync.client import connect

        env = {**os.environ, "TZ": time_zone} if time_zone else None  # the zone the browser (Airflow's UI) shows
        self.process = subprocess.Popen(["chromium", *FLAGS, f"--user-data-dir={profile}",
                                         f"--window-size={width},{height}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        active = profile / "DevToolsActivePort"
        for _ in range(300):
            if active.is_file() and len(active.read_text().splitlines()) >= 2:
                break
            time.sleep(0.1)
        port, path = active.read_text().splitlines()[:2]
        self.exits = ExitStack()
        self.socket = self.exits.enter_context(connect(f"ws://127.0.0.1:{port}{path}", max_size=2**27,
                                                       open_timeout=30))
        self.ids = itertools.count(1)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Network.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def call(self, method: str, *, session: bool = False, timeout: float = 60, **params: Any) -> dict:
        """Send one command and return its result (events met on the way are dropped)."""
        number = next(self.ids)
        message = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(self.socket.recv(timeout=timeout))
            if reply.get("id") == number:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def open(self, url: str, timeout: float = 60) -> int:
        """Navigate and wait for the load event; the HTTP status of the document."""
        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": "Page.navigate", "params": {"url": url},
                                     "sessionId": self.session}))
        status, loaded = 0, False
        deadline = time.monotonic() + timeout
        while not loaded:
            event = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if event.get("method") == "Network.responseReceived" and event["params"]["type"] == "Document":
                status = event["params"]["response"]["status"]
            loaded = event.get("method") == "Page.loadEventFired"
        return status

    def evaluate(self, expression: str) -> Any:
        """Run ``expression`` in the page through DevTools (not a script of the page: its CSP still holds)."""
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        return result["result"].get("value")

    def load_ms(self) -> float:
        """The browser's navigation timing of the current page: request start to the end of the load event."""
        return float(self.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0]; "
                                   "return n.loadEventEnd - n.startTime; })()"))

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000),
                              "scale": 1}
        data = self.call("Page.captureScreenshot", session=True, **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.exits.close()
        finally:
            self.process.terminate()
            self.process.wait(timeout=30)
