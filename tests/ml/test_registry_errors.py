"""A registry that does not answer is an error, never "no champion"."""

from __future__ import annotations

import pytest

from finsent.cli import main
from finsent.errors import FinsentError, NotRegisteredError
from finsent.orchestration.tasks import find_version, score_and_index


@pytest.fixture
def dead_registry(database_url, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")


def test_an_unreachable_registry_is_an_error_not_no_champion(dead_registry, caplog):
    for step in (find_version, score_and_index):
        with pytest.raises(FinsentError, match="did not answer") as raised:
            step()
        assert not isinstance(raised.value, NotRegisteredError)
    assert main(["score"]) == 1 and "did not answer" in caplog.text
