"""What the Sentiment page reads from MLflow: the champion and the newest backtest, as dataclasses.

One request reads through one ``MlflowClient`` built for it with explicit URIs
(``registry.registry_client``): the page runs inside the Airflow API server, a long-lived process
whose MLflow globals (tracking URI, active experiment) it must not set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from finsent.config import Settings
from finsent.errors import FinsentError
from finsent.ml.evaluate import SKILL_P_VALUE
from finsent.ml.registry import MODEL_NAME, alias_version, find_run, latest_decision, registry_client
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT
from finsent.web.queries import FinishedBacktest

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class Champion:
    version: int
    metrics: dict[str, float]  # the test_* metrics of the run that registered it
    link: str
    seen_through: date | None = None  # the last session it trained or validated on (its tag)
    definition: str | None = None  # its label definition (its tag)
    model: str = MODEL_NAME  # the registered model: finsent-updown (board) or finsent-news-updown (news)
    missing_run: str | None = None  # the id of its run when the store no longer has it (no metrics then)

    @property
    def has_verdict(self) -> bool:
        """What its evaluation said (``test_has_verdict``: 10 blocks of its labels' horizon), else 10 sessions."""
        if "test_has_verdict" in self.metrics:
            return self.metrics["test_has_verdict"] > 0
        return self.metrics.get("test_n_sessions", 0) >= MIN_SESSIONS_FOR_VERDICT

    @property
    def shows_skill(self) -> bool:
        """The evaluation's rule: enough test sessions and balanced accuracy above 0.5 at p < 0.05."""
        return self.has_verdict and self.metrics.get("test_p_value_balanced_accuracy", 1.0) < SKILL_P_VALUE


@dataclass(frozen=True)
class Backtest:
    """The newest finished walk-forward backtest: its name, headline metrics and MLflow run."""

    name: str
    metrics: dict[str, float]
    link: str
    missing_run: str | None = None  # the id of its report's run when the store no longer has it


@dataclass(frozen=True)
class Summaries:
    champion: Champion | None
    backtest: Backtest | None
    registry_error: str | None = None  # why there is no champion line: the registry did not answer
    no_champion_reason: str | None = None  # the newest version's champion decision, when there is no champion


def champion_summary(client: MlflowClient, mlflow_ui_url: str, model: str = MODEL_NAME) -> Champion | None:
    number = alias_version(client, "champion", model)
    if number is None:  # no champion yet: the page says so
        return None
    version = client.get_model_version(model, str(number))
    run = find_run(client, version.run_id)  # None: deleted and garbage-collected, or in another store
    metrics = run.data.metrics if run else {}
    seen = version.tags.get("seen_through")
    return Champion(int(version.version), {k: v for k, v in metrics.items() if k.startswith("test_")},
                    f"{mlflow_ui_url}/#/models/{model}/versions/{version.version}",
                    date.fromisoformat(seen) if seen else None, version.tags.get("label_definition") or None, model,
                    missing_run=version.run_id if version.run_id and run is None else None)


def backtest_summary(client: MlflowClient, mlflow_ui_url: str, finished: FinishedBacktest) -> Backtest:
    run = find_run(client, finished.mlflow_run_id)
    link = f"{mlflow_ui_url}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}" if run else ""
    missing = finished.mlflow_run_id if finished.mlflow_run_id and run is None else None
    return Backtest(finished.name, dict(run.data.metrics) if run else {}, link, missing_run=missing)


def read_summaries(settings: Settings, finished: FinishedBacktest | None, model: str = MODEL_NAME) -> Summaries:
    """The champion of ``model`` (or why there is none) and the backtest ``finished``, through one
    client. A registry that does not answer leaves the champion line saying so; the page still shows the data."""
    from mlflow.exceptions import MlflowException

    try:
        client = registry_client(settings)
        champion = champion_summary(client, settings.mlflow_ui_url, model)
        backtest = backtest_summary(client, settings.mlflow_ui_url, finished) if finished else None
        reason = latest_decision(client, model) if champion is None else None
    except (FinsentError, MlflowException) as exc:  # the page still shows the data, and says why not this
        return Summaries(None, None, registry_error=str(exc))
    return Summaries(champion, backtest, no_champion_reason=reason)
