"""Airflow's task-log server on 127.0.0.1 only: ``python -m finsent.stack.log_server PORT``.

Airflow 3.3's scheduler, triggerer and Celery workers each start a log server on every interface
(``serve_logs`` binds ``""``; there is no host setting), so ``finsent stack`` runs them with
``--skip-serve-logs`` and starts this one instead: Airflow's own app (the same JWT check against
``[api] secret_key``, the same log folder) on ``[logging] worker_log_server_port`` and
``trigger_log_server_port``, bound to the loopback, so two stacks can share a host.
"""

from __future__ import annotations

import argparse
import logging

HOST = "127.0.0.1"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int, help="the port (Airflow's [logging] *_log_server_port)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import uvicorn

    uvicorn.run("airflow.utils.serve_logs.log_server:get_app", host=HOST, port=args.port, log_config=None,
                access_log=False)


if __name__ == "__main__":
    main()
