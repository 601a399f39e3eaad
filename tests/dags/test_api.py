"""The plugin's JSON API: refused to anonymous callers (as the pages are), the same rows as
``finsent export`` to a logged-in one, its downloads byte for byte the export's files, and its
OpenAPI schema served behind the login."""

from __future__ import annotations

import json

import pytest

from finsent.cli import main
from finsent.data.origin import mark_synthetic
from tests.dags.test_plugin import _token, airflow_app  # noqa: F401 -- Airflow's own app, two users
from tests.data.published import DAYS, seed_published

ENDPOINTS = {"daily-sentiment": "daily-sentiment", "scores": "scores", "backtests": "backtest"}
STUDIES = {"studies": "study", "study-books": "study-books"}


@pytest.fixture
def client(airflow_app, engine):  # noqa: F811
    from fastapi.testclient import TestClient

    seed_published(engine)
    return TestClient(airflow_app)


def test_anonymous_callers_get_401_everywhere(client):
    for path in (*ENDPOINTS, "openapi.json", "daily-sentiment?format=csv"):
        response = client.get(f"/finsent/api/{path}")
        assert response.status_code == 401, (path, response.status_code)
        assert "rows" not in response.text and "openapi" not in response.text
    bad = client.get("/finsent/api/scores", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code in (401, 403)


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_the_api_answers_the_exports_rows(client, tmp_path, path):
    token = _token(client, "viewer")  # a viewer may read DAGs and see plugins: the API too
    params = {"ticker": "005930", "from": str(DAYS[1]), "to": str(DAYS[8]), "source": "board"}
    answer = client.get(f"/finsent/api/{path}", params=params, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text[:300]
    body = answer.json()
    out = tmp_path / "export.json"
    assert main(["export", ENDPOINTS[path], "--out", str(out), "--tickers", "005930", "--from", str(DAYS[1]),
                 "--to", str(DAYS[8]), "--source", "board"]) == 0
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert body["rows"] == exported and body["count"] == len(exported) > 0
    assert body["next_offset"] is None and body["synthetic"] == []
    download = client.get(f"/finsent/api/{path}", params={**params, "format": "csv"},
                          headers={"Authorization": f"Bearer {token}"})
    assert main(["export", ENDPOINTS[path], "--out", str(tmp_path / "e.csv"), "--tickers", "005930", "--from",
                 str(DAYS[1]), "--to", str(DAYS[8]), "--source", "board"]) == 0
    assert download.status_code == 200 and download.content == (tmp_path / "e.csv").read_bytes()
    assert "attachment" in download.headers["content-disposition"]


@pytest.mark.parametrize("path", list(STUDIES))
def test_the_studies_answer_the_exports_rows(client, tmp_path, path):
    token = _token(client, "viewer")
    answer = client.get(f"/finsent/api/{path}", params={"study": "grid"}, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text[:300]
    out = tmp_path / "export.json"
    assert main(["export", STUDIES[path], "--out", str(out), "--study", "grid"]) == 0
    assert answer.json()["rows"] == json.loads(out.read_text(encoding="utf-8")) and answer.json()["count"] >= 4
    assert client.get(f"/finsent/api/{path}").status_code == 401  # anonymous


def test_pages_bad_input_and_the_synthetic_mark(client, engine):
    client.headers["Authorization"] = f"Bearer {_token(client)}"
    first = client.get("/finsent/api/daily-sentiment", params={"limit": 7}).json()
    rest = client.get("/finsent/api/daily-sentiment", params={"offset": first["next_offset"], "limit": 10**5}).json()
    whole = client.get("/finsent/api/daily-sentiment").json()
    assert first["count"] == 7 and first["rows"] + rest["rows"] == whole["rows"] and rest["next_offset"] is None
    for params, message in (({"ticker": "999999"}, "unknown ticker"), ({"from": "2024-03-09", "to": "2024-03-01"},
                                                                         "after"),
                            ({"from": "2024-13-01"}, "date"), ({"source": "tv"}, "pattern")):
        refused = client.get("/finsent/api/daily-sentiment", params=params)
        assert refused.status_code == 422 and message in refused.text, (params, refused.text)
    mark_synthetic(engine, "finsent demo")
    assert "planted signal" in client.get("/finsent/api/backtests").json()["synthetic"][0]


def test_the_openapi_schema_is_served_to_logged_in_users(client):
    schema = client.get("/finsent/api/openapi.json", headers={"Authorization": f"Bearer {_token(client)}"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert set(paths) == {"/api/daily-sentiment", "/api/scores", "/api/backtests", "/api/studies",
                          "/api/study-books"}
    assert schema.json()["servers"] == [{"url": "/finsent"}]
    names = {p["name"] for p in paths["/api/daily-sentiment"]["get"]["parameters"]}
    assert {"ticker", "from", "to", "source", "format", "limit", "offset"} <= names
