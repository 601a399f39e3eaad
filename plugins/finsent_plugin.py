"""The finsent Airflow plugin: the "Sentiment" page and the MLflow link on training tasks.

The page is a small FastAPI app mounted at /finsent in the Airflow API server, shown inside the
Airflow UI as an external view (Browse → Sentiment). All logic lives in ``finsent.orchestration.sentiment_page``.
"""

from __future__ import annotations

from functools import lru_cache

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from finsent.orchestration.airflow_support import MlflowRunLink

app = FastAPI(title="finsent", docs_url=None, redoc_url=None)


@lru_cache(maxsize=1)
def _engine():
    from finsent.config import load_settings
    from finsent.db import create_engine

    return create_engine(load_settings())


@app.get("/sentiment", response_class=HTMLResponse)
async def sentiment(ticker: str | None = Query(default=None, max_length=6)) -> HTMLResponse:
    from finsent.config import load_settings
    from finsent.orchestration.sentiment_page import CSP, render_sentiment_page

    page = await run_in_threadpool(render_sentiment_page, _engine(), load_settings(), ticker)
    return HTMLResponse(page, headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"})


class FinsentPlugin(AirflowPlugin):
    name = "finsent"
    fastapi_apps = [{"app": app, "url_prefix": "/finsent", "name": "finsent"}]
    external_views = [{"name": "Sentiment", "href": "finsent/sentiment", "url_route": "sentiment",
                       "destination": "nav", "category": "browse"}]
    operator_extra_links = [MlflowRunLink()]
