"""The demo's DAG runs: trigger, and wait (each with a timeout) for exactly the runs this demo caused.

The database is first marked synthetic (``synthetic_data``: the page's banner). ingest is
triggered with a known run id; label is the run that consumed that run's asset events; for each
source (the board, then the news headlines) train runs only while that source has no champion (a
second demo keeps the first's); score is the run each new champion triggered, or one triggered
here when no champion moved; with a ``backtest`` conf, a walk-forward backtest runs last.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from finsent.data.sources import BOARD, DEFAULT_SOURCE, NEWS
from finsent.errors import FinsentError

log = logging.getLogger(__name__)

# Each gets a champion: the page's view of each source's index. Not the comments: the daily crawl
# fetches the threads of the last days' posts only, one or two sessions in a fresh demo, and a
# snapshot needs more sessions than that (their view says there is no index yet).
SOURCES = (BOARD.name, NEWS.name)

_RUN_BY_ID = "SELECT id, state FROM dag_run WHERE dag_id = :d AND run_id = :r"
# Each asset event of the source run, and the run of :d that consumed it (NULL while none has).
_EVENTS_AND_RUNS = """
SELECT e.id AS event_id, (SELECT r.run_id FROM dagrun_asset_event l JOIN dag_run r ON r.id = l.dag_run_id
                          WHERE l.event_id = e.id AND r.dag_id = :d ORDER BY r.id LIMIT 1) AS run_id
FROM asset_event e WHERE e.source_dag_id = :sd AND e.source_run_id = :sr ORDER BY e.id"""


class DemoRuns:
    def __init__(self, env: dict[str, str], airflow_home: Path, scheduler_log: Path | str,
                 timeouts_s: dict[str, float], backtest: dict | None = None) -> None:
        self.env, self.airflow_home, self.scheduler_log, self.timeouts_s = env, airflow_home, scheduler_log, timeouts_s
        self.backtest = backtest  # finsent_backtest's conf, or None: no backtest
        self.engine = sa.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])

    def run(self) -> None:
        from mlflow import MlflowClient

        try:
            self._mark_synthetic()
            server = self.env["MLFLOW_TRACKING_URI"]
            client = MlflowClient(tracking_uri=server, registry_uri=server)
            ingest = self.trigger("finsent_ingest")
            self.wait("finsent_ingest", ingest)
            for label in self.triggered_by("finsent_label", "finsent_ingest", ingest):
                self.wait("finsent_label", label)
            champions, scored = {}, False
            for source in SOURCES:
                champions[source], moved = self._champion(client, source)
                scored = scored or moved
            if not scored:
                self.wait("finsent_score", self.trigger("finsent_score"))
            if self.backtest is not None:
                self.wait("finsent_backtest", self.trigger("finsent_backtest", self.backtest))
            dags = "all five DAGs" if self.backtest is not None else "all four DAGs"
            shown = "; ".join(f"{'' if source == DEFAULT_SOURCE else source + ' '}champion v{v} "
                              f"({self._metrics(client, v, source)})" for source, v in champions.items())
            sys.stdout.write(f"\ndemo finished: {dags} succeeded; {shown}; open the Sentiment page above "
                             "(?source=news for the headlines)\n")
            sys.stdout.flush()
        finally:
            self.engine.dispose()

    def _mark_synthetic(self) -> None:
        from finsent.data.origin import mark_synthetic
        from finsent.db import engine_for_url, normalise_url

        engine = engine_for_url(normalise_url(self.env["FINSENT_DATABASE_URL"]))
        try:
            mark_synthetic(engine, "finsent demo")
        finally:
            engine.dispose()

    def _champion(self, client, source: str) -> tuple[int, bool]:
        """``source``'s champion, trained first while it has none; and whether it moved now (then
        the score run its move triggered has been waited for)."""
        from finsent.ml.registry import alias_version, model_name

        model = model_name(source)
        before = alias_version(client, "champion", model)
        if before is not None:
            log.info("%s champion v%d exists: not retraining (trigger finsent_train to train again)", model, before)
            return before, False
        train = self.trigger("finsent_train", {"model": "baseline", "rules": "all", "source": source})
        self.wait("finsent_train", train)
        champion = alias_version(client, "champion", model)
        if champion is None:
            raise FinsentError(f"the demo's {source} model did not become champion: read the decision tag of its "
                               f"{model} version in MLflow ({self.env['MLFLOW_TRACKING_URI']})")
        for score in self.triggered_by("finsent_score", "finsent_train", train):
            self.wait("finsent_score", score)
        return champion, True

    @staticmethod
    def _metrics(client, version: int, source: str = DEFAULT_SOURCE) -> str:
        from finsent.ml.registry import model_name

        run_id = client.get_model_version(model_name(source), str(version)).run_id
        from finsent.ml.metrics import shown

        metrics = client.get_run(run_id).data.metrics if run_id else {}
        parts = []
        for key in ("test_accuracy", "test_balanced_accuracy", "test_mcc"):
            if key in metrics:
                low, high = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
                interval = f" [{shown(low)}, {shown(high)}]" if low is not None and high is not None else ""
                parts.append(f"{key.removeprefix('test_')} {shown(metrics[key])}{interval}")
        return ", ".join(parts) or "no test metrics"

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run_id = f"finsent_demo__{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
        beside = Path(sys.executable).parent / "airflow"  # a venv's; the official image's is on PATH
        airflow = str(beside) if beside.is_file() else (shutil.which("airflow") or "airflow")
        command = [airflow, "dags", "trigger", dag_id, "--run-id", run_id]
        if conf:
            command += ["--conf", json.dumps(conf)]
        try:
            done = subprocess.run(command, env=self.env, check=False, capture_output=True, text=True,
                                  timeout=self.timeouts_s["command"])
        except subprocess.TimeoutExpired as exc:
            raise FinsentError(f"`airflow dags trigger {dag_id}` did not finish within {exc.timeout:.0f}s") from exc
        if done.returncode:
            raise FinsentError(f"could not trigger {dag_id}:\n{done.stderr[-2000:]}")
        log.info("%s: triggered run %s", dag_id, run_id)
        return run_id

    def triggered_by(self, dag_id: str, source_dag: str, source_run: str) -> list[str]:
        """The runs of ``dag_id`` that consumed the asset events of ``source_dag``'s run ``source_run``,
        once every one of those events has been consumed (posts and prices may start two runs)."""
        deadline = time.monotonic() + self.timeouts_s[dag_id]
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.text(_EVENTS_AND_RUNS), {"d": dag_id, "sd": source_dag, "sr": source_run}).all()
            if rows and all(r.run_id is not None for r in rows):
                return list(dict.fromkeys(r.run_id for r in rows))
            time.sleep(3)
        raise FinsentError(f"the asset events of {source_dag} run {source_run} started no {dag_id} run within "
                           f"{self.timeouts_s[dag_id]:.0f}s; read {self.scheduler_log}")

    def wait(self, dag_id: str, run_id: str) -> None:
        """Wait for the run to succeed; fail at once if it fails; a timeout names the logs."""
        timeout = self.timeouts_s[dag_id]
        deadline = time.monotonic() + timeout
        logs = self.airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        state = None
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                row = conn.execute(sa.text(_RUN_BY_ID), {"d": dag_id, "r": run_id}).first()
            state = row.state if row is not None else None
            if state == "success":
                log.info("%s: run %s succeeded", dag_id, run_id)
                return
            if state == "failed":
                raise FinsentError(f"{dag_id} run {run_id} failed; read its task logs in {logs} "
                                   "(or the Airflow UI)")
            time.sleep(3)
        raise FinsentError(f"{dag_id} run {run_id} did not succeed within {timeout:.0f}s (state: {state}); "
                           f"read {logs} and {self.scheduler_log}")
