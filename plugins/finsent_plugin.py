"""The finsent Airflow plugin: the "Sentiment" page and the MLflow link on training tasks.

The pages are a small FastAPI app mounted at /finsent in the Airflow API server (/finsent/sentiment,
/finsent/models), shown inside the Airflow UI as external views (Browse → Sentiment, Browse → Models),
beside a JSON API (/finsent/api/daily-sentiment, /scores, /backtests; ``finsent.web.api``) whose
OpenAPI schema is /finsent/api/openapi.json. All logic lives in ``finsent.web``.

Airflow mounts a plugin's FastAPI app as it is and authenticates none of its routes, so this app
declares Airflow's own auth-manager dependencies on every route (app-level ``dependencies``): the
caller must be a logged-in Airflow user (the UI's ``_token`` cookie or an ``Authorization: Bearer``
JWT) whom the auth manager allows to view plugins and to read DAGs. If those dependencies cannot
be imported (an Airflow that moved them), every route answers 503 instead of serving the page:
the app fails closed.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from finsent.data.sources import DEFAULT_SOURCE, SOURCE_NAMES
from finsent.orchestration.airflow_support import MlflowRunLink
from finsent.web.api import openapi_schema
from finsent.web.api import router as api_router

log = logging.getLogger(__name__)


def _auth_dependencies() -> list:
    """Airflow's dependencies for a logged-in user allowed to view plugins and read DAGs."""
    try:
        from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
        from airflow.api_fastapi.core_api.security import requires_access_dag, requires_access_view
    except ImportError as exc:  # fail closed: no page without Airflow's authentication
        log.error("finsent plugin: Airflow's auth dependencies cannot be imported (%s); every route answers 503",
                  exc)

        def refuse() -> None:
            raise HTTPException(status_code=503, detail="finsent: authentication is unavailable; page disabled")

        return [Depends(refuse)]
    return [Depends(requires_access_view(AccessView.PLUGINS)), Depends(requires_access_dag("GET"))]


app = FastAPI(title="finsent", docs_url=None, redoc_url=None, openapi_url=None, dependencies=_auth_dependencies())


@lru_cache(maxsize=8)
def _engine_for(database_url: str):
    """One engine (one connection pool) per database URL, kept across requests."""
    from finsent.db import engine_for_url

    return engine_for_url(database_url)


def _page(ticker: str | None, sort: str, order: str, source: str = DEFAULT_SOURCE, study: bool = False) -> str:
    """The page, read with the settings as they are now (blocking: runs in the threadpool)."""
    from finsent.config import load_settings
    from finsent.db import database_url
    from finsent.web.page import View, render_sentiment_page

    settings = load_settings()
    return render_sentiment_page(_engine_for(database_url(settings)), settings,
                                 view=View(ticker, sort, order == "desc", source, study))


def _models_page() -> str:
    from finsent.config import load_settings
    from finsent.web.models import render_models_page

    return render_models_page(load_settings())


def _html(page: str) -> HTMLResponse:
    from finsent.web.page import CSP

    return HTMLResponse(page, headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                                       "Cache-Control": "private, no-store"})


@app.get("/sentiment", response_class=HTMLResponse)
async def sentiment(ticker: str | None = Query(default=None, max_length=6),
                    sort: str = Query(default="code", pattern="^(code|index|change|z|skill|sessions)$"),
                    order: str = Query(default="asc", pattern="^(asc|desc)$"),
                    source: str = Query(default=DEFAULT_SOURCE, pattern=f"^({'|'.join(SOURCE_NAMES)})$"),
                    view: str | None = Query(default=None, pattern="^study$")) -> HTMLResponse:
    """One source's index (``source``: the board's, the default, or the news'); ``view=study``: the
    newest factor study's whole grid and books."""
    return _html(await run_in_threadpool(_page, ticker, sort, order, source, view == "study"))


@app.get("/models", response_class=HTMLResponse)
async def models() -> HTMLResponse:
    """Every registered version side by side (``finsent.web.models``)."""
    return _html(await run_in_threadpool(_models_page))


app.include_router(api_router, prefix="/api")


@app.get("/api/openapi.json", include_in_schema=False)
async def api_schema() -> JSONResponse:
    """The API's OpenAPI schema, behind the same login as every route (FastAPI's own is off)."""
    return JSONResponse(openapi_schema(app, "/finsent"))


class FinsentPlugin(AirflowPlugin):
    name = "finsent"
    fastapi_apps = [{"app": app, "url_prefix": "/finsent", "name": "finsent"}]
    external_views = [{"name": "Sentiment", "href": "finsent/sentiment", "url_route": "sentiment",
                       "destination": "nav", "category": "browse"},
                      {"name": "Models", "href": "finsent/models", "url_route": "models",
                       "destination": "nav", "category": "browse"}]
    operator_extra_links = [MlflowRunLink()]
