"""The bar every LLM must clear: TF-IDF over character n-grams (or Korean morphemes) + logistic regression.

Character n-grams suit short, misspelt, spacing-free Korean titles without a morphological
analyser; the model fits a million titles in minutes on a CPU. ``tokenizer="kiwi"`` reads
morphemes and their pairs instead (``finsent.ml.models.morphemes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline

from finsent.ml.models.base import read_manifest, write_manifest
from finsent.ml.models.morphemes import analyzer, prepared

C_GRID = (0.25, 1.0, 4.0)  # chosen on valid by log-loss


class BaselineClassifier:
    kind = "baseline"

    def __init__(self, *, ngram_max: int = 3, min_df: int = 2, c: float = 1.0, max_features: int = 300_000,
                 seed: int = 0, tokenizer: str = "char") -> None:
        self.params = {"ngram_max": ngram_max, "min_df": min_df, "c": c, "max_features": max_features,
                       "seed": seed, "tokenizer": tokenizer}
        self.pipeline = Pipeline([
            ("tfidf", TfidfVectorizer(analyzer=analyzer(tokenizer), min_df=min_df, sublinear_tf=True,
                                      max_features=max_features,
                                      # morphemes bring their own pairs (finsent.ml.models.morphemes)
                                      ngram_range=(1, ngram_max) if tokenizer == "char" else (1, 1))),
            ("logreg", LogisticRegression(C=c, max_iter=2000, random_state=seed)),
        ])

    def fit(self, texts: Sequence[str], labels: np.ndarray,
            valid: tuple[Sequence[str], np.ndarray] | None = None) -> None:
        """Fit on ``texts``; with ``valid`` (both classes present), choose the regularisation C from
        ``C_GRID`` by log-loss on valid (the test part is never looked at)."""
        tokenizer = self.params["tokenizer"]
        if valid is None or len(np.unique(valid[1])) < 2:
            self.pipeline.fit(prepared(texts, tokenizer), labels)
            return
        vectorizer = self.pipeline.named_steps["tfidf"]
        features = vectorizer.fit_transform(prepared(texts, tokenizer))
        valid_features = vectorizer.transform(prepared(valid[0], tokenizer))
        scores = {}
        for c in C_GRID:
            candidate = LogisticRegression(C=c, max_iter=2000, random_state=self.params["seed"]).fit(features, labels)
            scores[c] = (log_loss(valid[1], candidate.predict_proba(valid_features)[:, 1], labels=[0, 1]), candidate)
        best = min(scores, key=lambda c: scores[c][0])
        self.params["c"] = best
        self.valid_log_loss = {str(c): round(loss, 6) for c, (loss, _) in scores.items()}
        self.pipeline = Pipeline([("tfidf", vectorizer), ("logreg", scores[best][1])])

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        return self.pipeline.predict_proba(prepared(texts, self.params["tokenizer"]))[:, 1]

    def save(self, directory: Path) -> None:
        write_manifest(directory, self.kind, params=self.params)
        joblib.dump(self.pipeline, directory / "pipeline.joblib")

    @classmethod
    def load(cls, directory: Path) -> "BaselineClassifier":
        model = cls(**{"tokenizer": "char", **read_manifest(directory)["params"]})
        model.pipeline = joblib.load(directory / "pipeline.joblib")
        return model
