"""What the DAG files share: assets, default arguments, the training operator and its MLflow link.

Imported at DAG parse time, so it imports only ``airflow.sdk``, the standard library and the light
modules ``finsent.specs`` and ``finsent.config``; every task imports the heavy parts of finsent when it runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, BaseOperator, BaseOperatorLink, Param

from finsent.config import naver_pool_slots
from finsent.orchestration.alerts import FailureAlert
from finsent.specs import param_schemas

OWNER = "finsent"
TIMEZONE = pendulum.timezone("Asia/Seoul")
START = pendulum.datetime(2026, 1, 1, tz=TIMEZONE)

POSTS = Asset("finsent://postgres/posts", group="finsent")
PRICES = Asset("finsent://postgres/prices", group="finsent")
NEWS = Asset("finsent://postgres/news", group="finsent")
LABELS = Asset("finsent://postgres/labels", group="finsent")
CHAMPION = Asset("finsent://mlflow/finsent-updown/champion", group="finsent")
SENTIMENT = Asset("finsent://postgres/daily_sentiment", group="finsent")

NAVER_POOL = "naver"  # created by `make up` / airflow-init: caps concurrent requests to Naver
# its size (FINSENT_NAVER_POOL_SLOTS); the mapped crawl tasks of one run take at most this many at once
NAVER_POOL_SLOTS = naver_pool_slots()

# A failed task (after its retries) and a failed DAG run alert the operator (off until configured).
FAILURE_ALERT = FailureAlert()

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "on_failure_callback": [FAILURE_ALERT],
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
}


def params_of(spec_class: type, *, skip: tuple[str, ...] = ()) -> dict[str, Param]:
    """The DAG ``Param`` of every option of a spec (``finsent.specs``): the same names, defaults,
    choices and bounds as the command's flags."""
    params = {}
    for name, schema in param_schemas(spec_class, skip=skip).items():
        default = schema.pop("default")
        params[name] = Param(default, **schema)
    return params


class MlflowRunLink(BaseOperatorLink):
    """The "MLflow run" button on a training task: the run's page in the MLflow UI."""

    name = "MLflow run"

    def get_link(self, operator, *, ti_key) -> str:
        from airflow.sdk.bases.xcom import BaseXCom

        return BaseXCom.get_value(ti_key=ti_key, key=self.xcom_key) or ""


class FinsentTrainOperator(BaseOperator):
    """Fit, evaluate, register and apply the champion rule (``finsent.orchestration.tasks.train_and_register``)
    with the run's params as a ``TrainSpec``, made once when the task starts (a wrong param fails the
    run with the option's message)."""

    template_fields = ("dataset",)
    operator_extra_links = (MlflowRunLink(),)
    ui_color = "#dbeafe"

    def __init__(self, *, dataset: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset

    def execute(self, context) -> dict:
        from finsent.ml.spec import TrainSpec
        from finsent.orchestration.tasks import spec_from_params, train_and_register

        spec = spec_from_params(TrainSpec, dict(context["params"]))
        result = train_and_register(self.dataset, spec)
        context["ti"].xcom_push(key=MlflowRunLink().xcom_key, value=result["run_url"])
        self.log.info("MLflow run: %s; %s", result["run_url"], result["decision"])
        return result
