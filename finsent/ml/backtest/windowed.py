"""The TF-IDF baseline refitted per window without redoing the text work.

A walk-forward with 120-session windows and 5-session steps shows every post to ~24 models; the
plain baseline re-tokenises it every time. Here character n-grams are hashed once for all posts
(a stateless HashingVectorizer: nothing to fit), and each step only recomputes IDF weights on
its window, fits the logistic regression on the n-grams that occur in the window only (a few
thousand columns, not 2^20), and warm-starts it from the previous step's coefficients (3x fewer
solver iterations than from zero). Those coefficients are the whole state between steps:
``warm_state`` / ``restore`` carry them exactly (float64 bytes) across a resumed walk, so a
resumed step fits exactly what it would have fitted in one run.
``bench/backtest.py`` compares it with refitting ``BaselineClassifier`` from scratch.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from finsent.ml.models.morphemes import analyzer, prepared

N_FEATURES = 2**20
MIN_DF = 2  # as BaselineClassifier: an n-gram seen in one title of the window is noise


class WindowedBaseline:
    def __init__(self, titles: Sequence[str], *, ngram_max: int = 3, c: float = 1.0, seed: int = 0,
                 tokenizer: str = "char") -> None:
        grams = (1, ngram_max) if tokenizer == "char" else (1, 1)  # morphemes bring their own pairs
        counts = HashingVectorizer(analyzer=analyzer(tokenizer), ngram_range=grams, alternate_sign=False,
                                   norm=None, n_features=N_FEATURES).transform(prepared(titles, tokenizer)).tocsr()
        self.present = counts.copy()
        self.present.data[:] = 1.0
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf, as the baseline's TfidfVectorizer
        self.tf = counts
        self.c, self.seed = c, seed
        self.coef = np.zeros(N_FEATURES)  # the last window's coefficients, by hashed n-gram
        self.columns = np.zeros(0, dtype=np.int64)  # the last window's n-grams (where coef may be non-zero)
        self.intercept = 0.0

    def fit_predict(self, train: np.ndarray, labels: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Fit on the rows ``train`` (indices into the titles) and return P(up) for the rows ``score``."""
        document_frequency = np.asarray(self.present[train].sum(axis=0)).ravel()
        columns = np.flatnonzero(document_frequency >= MIN_DF)  # the window's vocabulary (min_df, as the baseline)
        idf = np.log((1 + len(train)) / (1 + document_frequency[columns])) + 1.0  # smooth_idf, as sklearn's
        weights = sparse.diags(idf)
        # normalise over the window's n-grams only: an unseen n-gram carries no weight, as in TfidfVectorizer
        features = normalize(self.tf[train][:, columns] @ weights)
        model = LogisticRegression(C=self.c, max_iter=2000, random_state=self.seed, warm_start=True)
        model.coef_, model.intercept_ = self.coef[columns][None, :].copy(), np.array([self.intercept])
        model.fit(features, labels)
        self.coef[:] = 0.0
        self.coef[columns], self.intercept = model.coef_[0], float(model.intercept_[0])
        self.columns = columns
        return model.predict_proba(normalize(self.tf[score][:, columns] @ weights))[:, 1]

    def warm_state(self) -> bytes:
        """The coefficients the next fit starts from, exactly (no pickle: plain arrays)."""
        buffer = io.BytesIO()
        np.savez(buffer, columns=self.columns.astype(np.int64), coef=self.coef[self.columns],
                 intercept=np.array([self.intercept]))
        return buffer.getvalue()

    def restore(self, state: bytes) -> None:
        with np.load(io.BytesIO(state), allow_pickle=False) as saved:
            columns = saved["columns"]
            self.coef[:] = 0.0
            self.coef[columns] = saved["coef"]
            self.columns, self.intercept = columns, float(saved["intercept"][0])
