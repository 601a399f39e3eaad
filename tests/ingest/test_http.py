"""The polite client's manners, against the loopback server."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from finsent.config import load_settings
from finsent.errors import FetchError
from finsent.ingest.http import HostThrottle, PoliteClient, RequestStats, retry_after_seconds


def test_throttle_spaces_requests_to_one_host_across_threads():
    throttle = HostThrottle(0.05)
    stamps: list[float] = []

    def hit():
        throttle.wait("h")
        stamps.append(time.monotonic())

    threads = [threading.Thread(target=hit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert all(b - a >= 0.045 for a, b in itertools.pairwise(stamps))


def test_retry_after_parsing():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_headers_and_give_up(naver, monkeypatch):
    monkeypatch.setenv("FINSENT_HTTP_RETRIES", "2")
    client = PoliteClient(load_settings())
    response = client.get(naver.base_url + "/robots.txt", referer="https://m.stock.naver.com/x")
    assert response.status_code == 200
    sent = response.request_headers
    assert "Mozilla/5.0" in sent["User-Agent"] and sent["Referer"] == "https://m.stock.naver.com/x"
    naver.inject("/sise.nhn", "status", times=3, code=503)
    stats = RequestStats()
    with pytest.raises(FetchError, match="failed after 3 attempts: HTTP 503"):
        client.get(naver.base_url + "/sise.nhn", {"symbol": "005930"}, stats=stats)
    assert stats.retries == 2
    with pytest.raises(FetchError, match="HTTP 404"):  # other 4xx are not retried
        client.get(naver.base_url + "/nowhere", stats=stats)
    assert stats.retries == 2


def test_slow_responses_time_out_and_are_retried(naver, monkeypatch):
    monkeypatch.setenv("FINSENT_HTTP_TIMEOUT_S", "0.3")
    naver.inject("/sise.nhn", "slow", seconds=1)
    stats = RequestStats()
    response = PoliteClient(load_settings()).get(naver.base_url + "/sise.nhn",
                                                 {"symbol": "005930", "count": "1"}, stats=stats)
    assert response.status_code == 200 and stats.retries == 1
