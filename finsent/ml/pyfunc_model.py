"""The MLflow pyfunc for finsent models, logged as "models from code".

MLflow stores this file with the model; loading runs it and calls ``load_context`` with the
model directory (adapter, tokenizer, manifest, and the base weights or their local path), so a
fresh process needs no hub access. Input: a DataFrame with a ``title`` column, a ``body`` column
(news: the summary; optional, and read only by a model that reads bodies) and a ``comments`` column
(the comments under a post written before its session opened, one per line; optional, read only by
a model that reads comments): the model composes its own text, ``finsent.ml.models.texts``, as it
was tested. Output: a DataFrame with ``p_up``.
``finsent score`` calls ``predict_rows`` on the unwrapped model so that its ``--batch-size``
reaches the model's forward pass.
"""

from __future__ import annotations

import mlflow
import pandas as pd

from finsent.ml.models.kinds import KINDS
from finsent.ml.models.texts import texts_of


class FinsentUpDown(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from pathlib import Path

        from finsent.ml.models import load_classifier

        self.classifier = load_classifier(Path(context.artifacts["model"]))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        texts = texts_of(model_input, self.classifier.text)
        return pd.DataFrame({"p_up": self.predict_titles(texts, (params or {}).get("batch_size"))})

    def predict_rows(self, titles: list[str], bodies: list[str | None] | None, batch_size: int | None = None,
                     comments: list[str | None] | None = None):
        """P(up) per post (or article) from its title, body (and comments), as the model reads them."""
        return self.predict_titles(self.classifier.text.compose_all(titles, bodies, comments), batch_size)

    def predict_titles(self, titles: list[str], batch_size: int | None = None):
        """P(up) per text as the model reads it; ``batch_size`` is the model's forward batch (a transformers
        kind's; the baseline has none)."""
        kind = KINDS.get(getattr(self.classifier, "kind", ""))
        if batch_size and kind is not None and kind.transformer:
            return self.classifier.predict_proba(titles, batch_size=int(batch_size))
        return self.classifier.predict_proba(titles)


mlflow.models.set_model(FinsentUpDown())
