"""Portable LoRA versions: a hub base is recorded as hub id + revision and served from another
machine's hub cache (HF_HOME, the models volume), offline; a missing base is a clear error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from finsent.config import load_settings
from finsent.data.snapshots import load_split
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.registry import MODEL_NAME, load_pyfunc, predict, tracking_uri
from finsent.ml.train import train_model

HUB_ID = "finsent-test/tiny-neox"
REVISION = "0123456789abcdef0123456789abcdef01234567"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "NO_PROXY": "*",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}


def hub_cache(home: Path, model: Path) -> Path:
    """``home`` laid out as huggingface_hub's cache holding ``model`` as HUB_ID at REVISION."""
    repo = home / "hub" / f"models--{HUB_ID.replace('/', '--')}"
    shutil.copytree(model, repo / "snapshots" / REVISION)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REVISION)
    return home


def serve(tracking: str, version: int, titles: list[str], hf_home: Path, data_dir: Path):
    code = ("import json, sys, mlflow, pandas as pd; mlflow.set_tracking_uri(sys.argv[1]); "
            f"m = mlflow.pyfunc.load_model('models:/{MODEL_NAME}/{version}'); "
            "print(json.dumps(m.predict(pd.DataFrame({'title': json.loads(sys.argv[2])}))['p_up'].tolist()))")
    env = {**os.environ, **OFFLINE, "HF_HOME": str(hf_home), "FINSENT_DATA_DIR": str(data_dir),
           "MLFLOW_TRACKING_URI": tracking}
    env.pop("HF_HUB_CACHE", None)
    return subprocess.run([sys.executable, "-c", code, tracking, json.dumps(titles)], env=env, check=False,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.timeout(900)  # training, then two serving processes: minutes on a busy 2-core machine
def test_a_hub_base_is_recorded_by_revision_and_served_from_another_cache(engine, planted, tiny_model, tmp_path,
                                                                          monkeypatch):
    training_home = hub_cache(tmp_path / "training-hf", tiny_model)
    monkeypatch.setenv("HF_HOME", str(training_home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    spec = TransformerSpec(base_model=HUB_ID, prompt="zero-shot", max_steps=3, batch_size=16, device="cpu", lora_r=4)
    outcome = train_model(settings, engine, planted, "lora", transformer=spec)
    pyfunc = load_pyfunc(outcome.version)
    titles = load_split(engine, planted, "test")["title"].head(20).tolist()
    expected = predict(pyfunc, titles)
    manifest = json.loads(next(Path(settings.data_dir, "mlflow").rglob("finsent_model.json")).read_text())
    assert manifest["base"] == {"hub_id": HUB_ID, "revision": REVISION}
    assert not any(p.name == "base" for p in Path(settings.data_dir, "mlflow").rglob("base"))  # not bundled

    # another machine: its own data dir and hub cache (the models volume); the training cache is gone
    serving_home = hub_cache(tmp_path / "serving-hf", tiny_model)
    shutil.rmtree(training_home)
    done = serve(tracking_uri(settings), outcome.version, titles, serving_home, tmp_path / "serving-data")
    assert done.returncode == 0, done.stderr[-3000:]
    assert np.allclose(json.loads(done.stdout.strip().splitlines()[-1]), expected, atol=1e-6)

    (tmp_path / "empty-hf").mkdir()
    missing = serve(tracking_uri(settings), outcome.version, titles, tmp_path / "empty-hf", tmp_path / "serving-data")
    assert missing.returncode != 0
    assert f"base model {HUB_ID}@{REVISION} is not in the hub cache" in missing.stderr
    assert f"hf download {HUB_ID} --revision {REVISION}" in missing.stderr
