"""MLflow: where runs are logged, how models are registered, and when the champion moves.

Tracking and registry URI: ``MLFLOW_TRACKING_URI`` if set (in the environment, ``.env``, or the
settings file of the stack running on ``FINSENT_DATA_DIR``), else a sqlite store under
``FINSENT_DATA_DIR/mlflow`` (artifacts beside it) that only this user can read: the folder is 0700
before MLflow writes a byte, and every file in it is made 0600 when a run ends (MLflow's writers
follow the umask; a process-wide umask would also reach the servers finsent starts).

The registered model is ``finsent-updown`` for models trained on board posts, ``finsent-news-updown``
for models trained on news headlines and ``finsent-both-updown`` on both (``MODEL_NAMES``): each has
its own champion, so a news model never replaces a board champion, nor the reverse. Every new
version gets the alias ``challenger``;
``champion`` moves by the rule of ``finsent.ml.promotion``. Registration is the last step of a
run, after the evaluation and the champion's predictions are in, so a failed run registers nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from finsent.config import Settings
from finsent.data.sources import BOARD, DEFAULT_SOURCE, NEWS, model_names
from finsent.errors import FinsentError, NotRegisteredError
from finsent.ml.models.texts import TEXT_COLUMNS
from finsent.names import private_dir, private_files, private_folder

log = logging.getLogger(__name__)

MODEL_NAME = BOARD.model_name  # the board's
# The registered model of each dataset selection (``finsent dataset build --source``): one champion each.
MODEL_NAMES = model_names()
NEWS_MODEL_NAME = NEWS.model_name


def model_name(source: str | None) -> str:
    """The registered model for a dataset of ``source`` (None: a board dataset, as before sources)."""
    try:
        return MODEL_NAMES[source or DEFAULT_SOURCE]
    except KeyError:
        raise FinsentError(f"unknown dataset source {source!r}; known: {', '.join(MODEL_NAMES)}") from None


EXPERIMENT = "finsent"
PYFUNC_FILE = Path(__file__).resolve().parent / "pyfunc_model.py"


def tracking_uri(settings: Settings) -> str:
    return (os.environ.get("MLFLOW_TRACKING_URI") or settings.mlflow_tracking_uri
            or f"sqlite:///{settings.data_dir / 'mlflow' / 'mlflow.db'}")


def _local_store(settings: Settings) -> Path | None:
    """The folder of finsent's own sqlite store when that is the tracking URI (None for a server)."""
    folder = settings.data_dir / "mlflow"
    return folder if tracking_uri(settings) == f"sqlite:///{folder / 'mlflow.db'}" else None


def keep_store_private(settings: Settings) -> None:
    """Make what MLflow keeps under ``FINSENT_DATA_DIR/mlflow`` (finsent's own store: the database,
    artifacts, models, reports, plots; with another sqlite store, its artifacts, which ``configure``
    puts there too) 0600 in 0700 folders. A tracking server writes its own files (the stack starts
    it with umask 077)."""
    folder = settings.data_dir / "mlflow"
    if folder.is_dir():
        private_files(folder)


@contextmanager
def private_run(settings: Settings, **start_run) -> Iterator:
    """``mlflow.start_run(**start_run)``, and the local store made private again when it ends."""
    import mlflow

    try:
        with mlflow.start_run(**start_run) as run:
            yield run
    finally:
        keep_store_private(settings)


def configure(settings: Settings, experiment: str = EXPERIMENT):
    """Point MLflow at finsent's store and make sure the experiment exists; return a client."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from finsent.logs.routing import quiet_mlflow_prints

    quiet_mlflow_prints()  # the CLI sends MLflow's prints to its log file
    uri = tracking_uri(settings)
    if (store := _local_store(settings)) is not None:
        private_folder(store)
        private_folder(store / "artifacts")
        database = os.open(store / "mlflow.db", os.O_WRONLY | os.O_CREAT, 0o600)  # sqlite keeps the mode,
        os.fchmod(database, 0o600)  # and its journal files take the database's
        os.close(database)
        keep_store_private(settings)  # files an older finsent left readable
    elif uri.startswith("sqlite:///"):
        private_dir(Path(uri[len("sqlite:///"):]).parent)
        private_folder(settings.data_dir / "mlflow" / "artifacts")  # its artifacts live under the data folder
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    try:
        if client.get_experiment_by_name(experiment) is None:
            artifacts = None
            if uri.startswith("sqlite:///"):  # keep artifacts beside the store, not in the working directory
                artifacts = (settings.data_dir / "mlflow" / "artifacts").resolve().as_uri()
            client.create_experiment(experiment, artifact_location=artifacts)
        mlflow.set_experiment(experiment)
    except (MlflowException, OSError) as exc:  # unreachable server, broken store: an error, never "no model"
        raise FinsentError(f"the MLflow tracking server at {uri} did not answer: {exc}") from exc
    return client


def registry_client(settings: Settings):
    """A client of finsent's tracking store and registry for reading, built with explicit URIs and
    without touching MLflow's process-wide state (no ``set_tracking_uri``, no experiment created):
    what a long-lived process serving many requests (the Airflow API server) builds per request."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = tracking_uri(settings)
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MlflowClient(tracking_uri=uri, registry_uri=uri)
    except (MlflowException, OSError) as exc:  # a broken store: an error, never "no model"
        raise FinsentError(f"the MLflow tracking server at {uri} did not answer: {exc}") from exc


def log_pyfunc(model_dir: Path):
    """Log the model directory as a pyfunc ("models from code") in the active run."""
    import mlflow

    return mlflow.pyfunc.log_model(
        name="model", python_model=str(PYFUNC_FILE), artifacts={"model": str(model_dir)},
        pip_requirements=["finsent", "mlflow", "pandas", "scikit-learn", "torch", "transformers", "peft"])


def load_pyfunc(version_or_alias: str | int, model: str = MODEL_NAME):
    import mlflow
    from mlflow.exceptions import MlflowException

    reference = f"@{version_or_alias}" if str(version_or_alias).isalpha() else f"/{version_or_alias}"
    try:
        return mlflow.pyfunc.load_model(f"models:/{model}{reference}")
    except MlflowException as exc:
        if _missing(exc):
            raise NotRegisteredError(f"cannot load models:/{model}{reference}: {exc}") from None
        raise FinsentError(f"MLflow failed to load models:/{model}{reference}: {exc}") from exc


def _missing(exc) -> bool:
    """True when MLflow says "no such model, version or alias" (not for an unreachable or broken store)."""
    return getattr(exc, "error_code", None) in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


def alias_version(client, alias: str, model: str = MODEL_NAME) -> int | None:
    """The version ``alias`` points at, or None when it points nowhere; registry failures raise."""
    from mlflow.exceptions import MlflowException

    try:
        return int(client.get_model_version_by_alias(model, alias).version)
    except MlflowException as exc:
        if _missing(exc):
            return None
        raise FinsentError(f"the MLflow registry failed to answer for @{alias}: {exc}") from exc


def version_of(client, version_or_alias: str | int, model: str = MODEL_NAME) -> int:
    """A version number from a number or an alias; NotRegisteredError (exit 2, with what there is) when
    there is none."""
    from mlflow.exceptions import MlflowException

    if str(version_or_alias).isdigit():
        try:
            return int(client.get_model_version(model, str(version_or_alias)).version)
        except MlflowException as exc:
            if not _missing(exc):
                raise FinsentError(f"the MLflow registry failed: {exc}") from exc
            version = None
    else:
        version = alias_version(client, str(version_or_alias), model)
    if version is None:
        raise NotRegisteredError(f"no version {version_or_alias!r} of {model} in the registry; "
                                 f"{registered_summary(client, model)}")
    return version


def version_or_skip(client, alias: str, model: str, skipped: str) -> int | None:
    """The version ``alias`` of ``model`` names, or None when it names none yet: then the skip is logged
    (``skipped``: what is not done) with the newest decision, which says why no version has shown skill.
    The one way every step that needs a champion (scoring, the DAG's queue choice) says "no champion: skip"."""
    try:
        return version_of(client, alias, model)
    except NotRegisteredError:
        named = f"version {alias}" if str(alias).isdigit() else str(alias)
        log.warning("%s has no %s yet: %s. Newest decision: %s", model, named, skipped,
                    latest_decision(client, model) or "none yet")
        return None


def registered_summary(client, model: str) -> str:
    """What ``model`` has in the registry, as a hint: its versions and where its aliases point."""
    from mlflow.exceptions import MlflowException

    try:
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{model}'"))
        aliases = client.get_registered_model(model).aliases if versions else {}
    except MlflowException:
        versions, aliases = [], {}
    if not versions:
        return f"{model} has no version yet: `finsent train` registers one"
    pointing = ", ".join(f"@{alias} -> {number}" for alias, number in sorted(aliases.items())) or "no aliases"
    return (f"{model} has version(s) {', '.join(map(str, versions[-10:]))} ({pointing}); pass one of them, or "
            "`finsent train` registers a new one")


def predict(pyfunc, rows: pd.DataFrame | list[str]) -> np.ndarray:
    """P(up) of the served model on ``rows`` (a frame with ``title`` and, for a model that reads
    bodies, ``body``, for one that reads comments ``comments``; or a list of titles)."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame({"title": rows})
    inputs = frame[[c for c in TEXT_COLUMNS if c in frame]]
    return pyfunc.predict(inputs)["p_up"].to_numpy(dtype=np.float64)


def champion_inputs(client, rows: pd.DataFrame | list[str], model: str = MODEL_NAME):
    """(version, its TrainingRecord or None, its P(up) on ``rows``) of the champion, or None."""
    from finsent.ml.lineage import TrainingRecord

    version = alias_version(client, "champion", model)
    if version is None:
        return None
    tags = client.get_model_version(model, str(version)).tags
    return version, TrainingRecord.from_tags(tags), predict(load_pyfunc(version, model), rows)


def register_version(client, model_uri: str, tags: dict[str, str], promote: bool, model: str = MODEL_NAME) -> int:
    """Register ``model_uri`` as a new version with ``tags``, alias it ``challenger``, and ``champion``
    when ``promote``. The last step of a training run: nothing is registered before it."""
    import mlflow

    version = int(mlflow.register_model(model_uri, model, tags=tags).version)
    client.set_registered_model_alias(model, "challenger", str(version))
    if promote:
        client.set_registered_model_alias(model, "champion", str(version))
    return version


def newest_version(client, model: str = MODEL_NAME) -> int | None:
    """The newest registered version's number (None: none yet)."""
    versions = client.search_model_versions(f"name = '{model}'")
    return max((int(v.version) for v in versions), default=None)


def find_run(client, run_id: str | None):
    """The run ``run_id``, or None when the store has no such run (deleted and garbage-collected, or
    logged to another store); a store that fails to answer raises FinsentError."""
    from mlflow.exceptions import MlflowException

    if not run_id:
        return None
    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if _missing(exc):
            return None
        raise FinsentError(f"the MLflow tracking store failed to answer for run {run_id}: {exc}") from exc


def latest_decision(client, model: str = MODEL_NAME) -> str | None:
    """Why the newest version did (not) become champion, from its tag: "vN: reason"."""
    versions = client.search_model_versions(f"name = '{model}'")
    if not versions:
        return None
    newest = max(versions, key=lambda v: int(v.version))
    reason = newest.tags.get("champion_decision")
    return f"v{newest.version}: {reason}" if reason else None
