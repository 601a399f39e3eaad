"""Healthchecks of the compose stack's Airflow processes that do not import Airflow.

`airflow jobs check` and `celery --app airflow... inspect ping` import Airflow: tens of seconds of
CPU per check, four of them every interval, and on a busy host they time out and keep the stack
unhealthy. These ask the same questions with psycopg2 and Celery alone (a second or two):

    python /opt/finsent/healthcheck.py job TriggererJob|DagProcessorJob [MAX_AGE_S]
        a running job of that type on this host whose heartbeat is younger than MAX_AGE_S (120)
    python /opt/finsent/healthcheck.py worker NAME
        the Celery worker NAME@HOSTNAME answers a ping through the broker

Exit 0 healthy, 1 not (the reason on stdout, which `docker inspect` shows).
"""

from __future__ import annotations

import os
import socket
import sys


def job_alive(job_type: str, max_age_s: float) -> str | None:
    import psycopg2

    # the job's hostname is Airflow's hostname_callable (finsent.stack.processes.worker_hostname)
    name = os.environ.get("FINSENT_WORKER_NAME")
    host = f"{name}@{socket.getfqdn()}" if name else socket.getfqdn()
    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg2://", "postgresql://", 1)
    with psycopg2.connect(url, connect_timeout=10) as conn, conn.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM now() - max(latest_heartbeat)) FROM job "
                    "WHERE job_type = %s AND hostname = %s AND state = 'running'", (job_type, host))
        age = cur.fetchone()[0]
    conn.close()
    if age is None:
        return f"no running {job_type} of host {host}"
    if age > max_age_s:
        return f"{job_type} of host {host}: last heartbeat {age:.0f}s ago (> {max_age_s:.0f}s)"
    return None


def worker_answers(name: str) -> str | None:
    from celery import Celery

    node = f"{name}@{socket.gethostname()}"  # `--celery-hostname NAME@%h`
    app = Celery(broker=os.environ["AIRFLOW__CELERY__BROKER_URL"])
    replies = app.control.ping(destination=[node], timeout=20)
    return None if any(node in reply for reply in replies) else f"Celery worker {node} did not answer a ping"


def main(argv: list[str]) -> int:
    if len(argv) in (2, 3) and argv[0] == "job":
        problem = job_alive(argv[1], float(argv[2]) if len(argv) == 3 else 120.0)
    elif len(argv) == 2 and argv[0] == "worker":
        problem = worker_answers(argv[1])
    else:
        sys.stdout.write("usage: healthcheck.py job JOB_TYPE [MAX_AGE_S] | worker NAME\n")
        return 2
    sys.stdout.write(f"{problem or 'healthy'}\n")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
