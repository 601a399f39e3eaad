"""The demo inside docker compose (``make compose-demo``): the same board and the same DAG runs as
``make demo``, from containers of the stack.

``python -m finsent.stack.compose_demo naver`` serves the demo's loopback Naver on every
interface of its container (service ``naver``, profile ``demo``: reachable from the stack's network
only); ``... run`` drives ingest -> label -> train -> score -> backtest through the stack's
scheduler and Celery workers with :class:`~finsent.stack.demo.DemoRuns`, from the container
of service ``demo``, and exits 2 with the reason when a run fails or times out.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from finsent.errors import FinsentError
from finsent.stack.runner import DEMO_BACKTEST, TIMEOUTS_S, demo_naver_args

log = logging.getLogger(__name__)

DAGS = ("finsent_ingest", "finsent_label", "finsent_train", "finsent_score", "finsent_backtest")
NAVER_PORT = 8000  # inside the compose network only: docker-compose.demo.yml points the workers here


def wait_for_dags(database_url: str, timeout_s: float) -> None:
    """A healthy DAG processor may not have parsed every DAG yet: `airflow dags trigger` needs them."""
    engine = sa.create_engine(database_url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with engine.connect() as conn:
                parsed = set(conn.execute(sa.text("SELECT dag_id FROM serialized_dag")).scalars())
            missing = sorted(set(DAGS) - parsed)
            if not missing:
                return
            if time.monotonic() > deadline:
                raise FinsentError(f"the DAG processor has not parsed {', '.join(missing)} within {timeout_s:.0f}s; "
                                   "read `docker compose logs airflow-dag-processor`")
            time.sleep(3)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args == ["naver"]:
        from finsent.loopback.server import main as serve

        serve([*demo_naver_args(), "--host", "0.0.0.0", "--port", str(NAVER_PORT)])
        return 0
    if args == ["run"]:
        from finsent.stack.demo import DemoRuns

        home = Path(os.environ.get("AIRFLOW_HOME", "/opt/airflow"))
        try:
            wait_for_dags(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], TIMEOUTS_S["airflow"])
            DemoRuns(dict(os.environ), home, "`docker compose logs airflow-scheduler`", TIMEOUTS_S,
                     backtest=DEMO_BACKTEST).run()
        except FinsentError as exc:
            log.error("%s", exc)
            return 2
        return 0
    sys.stderr.write("usage: python -m finsent.stack.compose_demo naver|run\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
