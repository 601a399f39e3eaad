"""Multi-process training with torchrun (two CPU processes, gloo): the same code path a multi-GPU job
takes (`torchrun --nproc_per_node N` or `accelerate launch --multi_gpu`). Each rank trains its share
of the batches with DDP; only rank 0 evaluates, logs, registers and reports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from mlflow import MlflowClient

from finsent.config import load_settings
from finsent.ml.registry import MODEL_NAME, tracking_uri


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_lora_training_registers_once(engine, planted, tiny_model):
    torchrun = str(Path(sys.executable).parent / "torchrun")
    command = [torchrun, "--nproc_per_node", "2", "--master_port", str(_free_port()), "-m", "finsent.cli", "train",
               "--dataset", planted, "--model", "lora", "--base-model", str(tiny_model),
               "--prompt", "zero-shot", "--device", "cpu", "--epochs", "4", "--batch-size", "16", "--lr", "0.005",
               "--lora-r", "16"]
    done = subprocess.run(command, env=os.environ.copy(), check=False, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "rank 0 of 2" in done.stderr and "rank 1 of 2" in done.stderr  # DDP, not two solo runs
    assert done.stdout.count("registered finsent-updown v1") == 1  # rank 0 only
    uri = tracking_uri(load_settings())
    client = MlflowClient(uri, uri)  # the registry too: another test may have left mlflow's global registry URI
    assert len(client.search_model_versions(f"name = '{MODEL_NAME}'")) == 1
    runs = client.search_runs([client.get_experiment_by_name("finsent").experiment_id])
    assert len(runs) == 1 and runs[0].data.metrics["test_p_value_vs_half"] < 0.05


def torchrun_job(base: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    torchrun = str(Path(sys.executable).parent / "torchrun")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    started = time.monotonic()
    done = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_port", str(_free_port()), "-m",
                           "tests.ml.ddp_job", str(base), *args], cwd=root, env=env, check=False,
                          capture_output=True, text=True, timeout=300)
    return done, time.monotonic() - started


def test_a_failing_rank_ends_the_job_on_every_rank(tiny_model, tmp_path):
    (tmp_path / "empty").mkdir()
    done, seconds = torchrun_job(tiny_model, "fail-rank-1", str(tmp_path / "empty"))
    assert done.returncode != 0
    assert "training rank 1 failed, ending the job: --base-model" in done.stderr
    assert "is not a loadable model" in done.stderr
    assert "rank 0 finished" not in done.stderr
    # startup (imports, model load) takes most of it on a loaded 2-core machine; the hang it
    # replaces lasted the collective timeout (30 minutes for gloo, 10 for NCCL)
    assert seconds < 120, seconds


def test_fewer_batches_than_ranks_is_refused_on_every_rank(tiny_model):
    done, _ = torchrun_job(tiny_model, "few-batches")
    assert done.returncode != 0
    assert "make fewer batches of 4 than the 2 training processes" in done.stderr
    assert "finished" not in done.stderr
