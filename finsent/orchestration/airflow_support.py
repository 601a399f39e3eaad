"""What the DAG files share: assets, default arguments, the training operator and its MLflow link.

Imported at DAG parse time, so it imports only ``airflow.sdk`` and the standard library; every
task imports the heavy parts of finsent when it runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, BaseOperator, BaseOperatorLink

OWNER = "finsent"
TIMEZONE = pendulum.timezone("Asia/Seoul")
START = pendulum.datetime(2026, 1, 1, tz=TIMEZONE)

POSTS = Asset("finsent://postgres/posts", group="finsent")
PRICES = Asset("finsent://postgres/prices", group="finsent")
LABELS = Asset("finsent://postgres/labels", group="finsent")
CHAMPION = Asset("finsent://mlflow/finsent-updown/champion", group="finsent")
SENTIMENT = Asset("finsent://postgres/daily_sentiment", group="finsent")

NAVER_POOL = "naver"  # created by `make up` / airflow-init: caps concurrent requests to Naver

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
}


class MlflowRunLink(BaseOperatorLink):
    """The "MLflow run" button on a training task: the run's page in the MLflow UI."""

    name = "MLflow run"

    def get_link(self, operator, *, ti_key) -> str:
        from airflow.sdk.bases.xcom import BaseXCom

        return BaseXCom.get_value(ti_key=ti_key, key=self.xcom_key) or ""


class FinsentTrainOperator(BaseOperator):
    """Fit, evaluate, register and apply the champion rule (``finsent.orchestration.tasks.train_and_register``)."""

    template_fields = ("dataset", "model", "base_model", "prompt", "quantize", "epochs", "max_steps")
    operator_extra_links = (MlflowRunLink(),)
    ui_color = "#dbeafe"

    def __init__(self, *, dataset: str, model: str = "baseline", base_model: str | None = None,
                 prompt: str = "study-2shot", quantize: str | None = None, epochs: int = 1,
                 max_steps: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dataset, self.model, self.base_model = dataset, model, base_model
        self.prompt, self.quantize, self.epochs, self.max_steps = prompt, quantize, epochs, max_steps

    def execute(self, context) -> dict:
        from finsent.orchestration.tasks import train_and_register

        max_steps = int(self.max_steps) if self.max_steps not in (None, "", "None") else None
        result = train_and_register(self.dataset, self.model, self.base_model or None, self.prompt,
                                    self.quantize or None, int(self.epochs), max_steps)
        context["ti"].xcom_push(key=MlflowRunLink().xcom_key, value=result["run_url"])
        self.log.info("MLflow run: %s; %s", result["run_url"], result["decision"])
        return result
