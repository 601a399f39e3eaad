"""Exact resume: a job killed (SIGKILL) mid-run and started again ends with the same adapter as an
uninterrupted run; a checkpoint of another job is refused; a finished job leaves no checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.lora import LoraClassifier

ROOT = Path(__file__).resolve().parents[2]


def job(base: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tests.ml.resume_job", str(base), str(out), *extra]


def run(command: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=ROOT, env=env, check=False, capture_output=True, text=True, timeout=600)


def load(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


@pytest.mark.timeout(900)  # four training processes in a row: minutes on a busy 2-core machine
def test_killed_and_resumed_equals_uninterrupted(tiny_model, tmp_path):
    checkpoints = tmp_path / "ckpt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.Popen(job(tiny_model, tmp_path / "never.safetensors", "--checkpoint-dir", str(checkpoints)),
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (checkpoints / "last" / "state.pt").exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(60) == -signal.SIGKILL, "the job ended before it could be killed mid-run"
    assert not (tmp_path / "never.safetensors").exists()
    saved = torch.load(checkpoints / "last" / "state.pt", weights_only=True)  # tensors and plain types only
    assert 0 < saved["step"] < 90 and saved["batch"] > 0

    other = run(job(tiny_model, tmp_path / "other.safetensors", "--checkpoint-dir", str(checkpoints),
                    "--data-seed", "1"))
    assert other.returncode == 2, other.stderr[-3000:]
    assert "belongs to another training job" in other.stderr and "training data" in other.stderr
    assert (checkpoints / "last").is_dir()  # refused, not overwritten

    resumed = run(job(tiny_model, tmp_path / "resumed.safetensors", "--checkpoint-dir", str(checkpoints)))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from {checkpoints / 'last'} at step" in resumed.stderr
    assert not (checkpoints / "last").exists()  # a finished run removes its checkpoint

    whole = run(job(tiny_model, tmp_path / "whole.safetensors"))
    assert whole.returncode == 0, whole.stderr[-3000:]
    a, b = load(tmp_path / "resumed.safetensors"), load(tmp_path / "whole.safetensors")
    assert a.keys() == b.keys() and a
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6


def test_checkpoint_of_another_spec_is_refused(tiny_model, tmp_path):
    from finsent.errors import ConfigError

    titles, labels = ["가즈아 떡상", "손절 떡락"] * 8, [1, 0] * 8
    spec = TransformerSpec(base_model=str(tiny_model), prompt="zero-shot", batch_size=4, max_steps=3, device="cpu",
                    checkpoint_dir=str(tmp_path), save_every=2, lora_r=4)
    model = LoraClassifier(spec)
    model.fit(titles, labels)
    assert not (tmp_path / "last").exists()
    # leave a checkpoint behind as a killed job would: save one from a fresh, identical job
    import numpy as np

    from finsent.ml.models.hf.checkpoint import Checkpoints, Position, job_identity

    identity = job_identity(model.spec, titles, np.array(labels), 1)
    optimizer = torch.optim.AdamW([p for p in model.model.parameters() if p.requires_grad])
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    Checkpoints(tmp_path, identity).save(model.model, optimizer, schedule, torch.amp.GradScaler("cuda", enabled=False),
                                         Position(2, 0, 2, None))
    changed = LoraClassifier(TransformerSpec(**{**spec.__dict__, "lr": 1e-3}))
    with pytest.raises(ConfigError, match=r"another training job \(lr: 0.0002 there, 0.001 now\)"):
        changed.fit(titles, labels)
