"""The MLflow pyfunc for finsent models, logged as "models from code".

MLflow stores this file with the model; loading runs it and calls ``load_context`` with the
model directory (adapter, tokenizer, manifest, and the base weights or their local path), so a
fresh process needs no hub access. Input: a DataFrame with a ``title`` column. Output: a
DataFrame with ``p_up``.
"""

from __future__ import annotations

import mlflow
import pandas as pd


class FinsentUpDown(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from pathlib import Path

        from finsent.ml.models import load_classifier

        self.classifier = load_classifier(Path(context.artifacts["model"]))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        titles = model_input["title"].astype(str).tolist()
        return pd.DataFrame({"p_up": self.classifier.predict_proba(titles)})


mlflow.models.set_model(FinsentUpDown())
