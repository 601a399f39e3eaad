"""The demo inside docker compose (``make compose-demo``): the same board and the same DAG runs as
``make demo``, from containers of the stack.

``python -m finsent.orchestration.compose_demo naver`` serves the demo's loopback Naver on every
interface of its container (service ``naver``, profile ``demo``: reachable from the stack's network
only); ``... run`` drives ingest -> label -> train -> score -> backtest through the stack's
scheduler and Celery workers with :class:`~finsent.orchestration.demo.DemoRuns`, from the container
of service ``demo``, and exits 2 with the reason when a run fails or times out.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from finsent.errors import FinsentError
from finsent.orchestration.stack import TIMEOUTS_S, demo_naver_args

log = logging.getLogger(__name__)

NAVER_PORT = 8000  # inside the compose network only: docker-compose.demo.yml points the workers here
BACKTEST = {"name": "demo", "model": "baseline"}  # the DAG's defaults for the rest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args == ["naver"]:
        from finsent.ingest.loopback.server import main as serve

        serve([*demo_naver_args(), "--host", "0.0.0.0", "--port", str(NAVER_PORT)])
        return 0
    if args == ["run"]:
        from finsent.orchestration.demo import DemoRuns

        home = Path(os.environ.get("AIRFLOW_HOME", "/opt/airflow"))
        try:
            DemoRuns(dict(os.environ), home, "`docker compose logs airflow-scheduler`", TIMEOUTS_S,
                     backtest=BACKTEST).run()
        except FinsentError as exc:
            log.error("%s", exc)
            return 2
        return 0
    sys.stderr.write("usage: python -m finsent.orchestration.compose_demo naver|run\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
