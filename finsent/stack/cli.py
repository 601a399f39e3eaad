"""``finsent stack up|down|demo``: the whole pipeline on this machine."""

from __future__ import annotations

import argparse

from finsent.cli_args import add_command
from finsent.config import load_settings


def cmd_stack(args: argparse.Namespace) -> int:
    """up: embedded Postgres, migrations, MLflow server on 127.0.0.1:5000, Airflow on 127.0.0.1:8080
    with this repository's DAGs and plugin (LocalExecutor, or Celery workers with --executor celery),
    Airflow's log servers on 127.0.0.1; prints URLs and the admin password; writes run/cli.env, so
    the CLI on this data folder uses the stack's MLflow by itself; reuses what runs. down: stop it all, task processes
    included. demo: up against the loopback Naver (synthetic data, marked so), then run ingest -> label ->
    train (a champion for the board, then one for the news) -> score -> backtest and wait for each."""
    from finsent.stack.runner import Stack

    stack = Stack(load_settings())
    if args.stack_command == "up":
        stack.up(args.executor)
    elif args.stack_command == "down":
        stack.down()
    else:
        stack.demo(args.executor)
    return 0


def register(commands) -> None:
    stack = add_command(commands, "stack", cmd_stack,
                      help="run the whole pipeline locally (embedded Postgres, MLflow, Airflow)")
    stack.add_argument("stack_command", choices=("up", "down", "demo"))
    stack.add_argument("--executor", choices=("local", "celery"), default="local",
                       help="local: LocalExecutor; celery: Celery workers on the local Redis "
                            "(queues default and gpu); default local")
