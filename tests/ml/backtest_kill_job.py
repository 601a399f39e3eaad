"""`finsent backtest ARGS...` that kills its own process (SIGKILL) in the middle of the final MLflow
logging, at its first report text (params, metrics and plots are logged by then): a kill -9 at
exactly that point, for the orphan-run test.

    python -m tests.ml.backtest_kill_job NAME [backtest options]
"""

from __future__ import annotations

import os
import signal
import sys

import mlflow

from finsent.cli import main


def _kill_self(*args, **kwargs) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    mlflow.log_text = _kill_self
    raise SystemExit(main(["backtest", *sys.argv[1:]]))
