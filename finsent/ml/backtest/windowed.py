"""The TF-IDF baseline refitted per window without redoing the text work.

A walk-forward with 120-session windows and 5-session steps shows every post to ~24 models; the
plain baseline re-tokenises it every time. Here character n-grams are hashed once for all posts
(a stateless HashingVectorizer: nothing to fit), and each step only recomputes IDF weights on
its window and warm-starts the logistic regression from the previous step's coefficients.
``bench/backtest.py`` compares it with refitting ``BaselineClassifier`` from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

N_FEATURES = 2**20


class WindowedBaseline:
    def __init__(self, titles: Sequence[str], *, ngram_max: int = 3, c: float = 1.0, seed: int = 0) -> None:
        counts = HashingVectorizer(analyzer="char_wb", ngram_range=(1, ngram_max), alternate_sign=False,
                                   norm=None, n_features=N_FEATURES).transform(list(titles)).tocsr()
        self.present = counts.copy()
        self.present.data[:] = 1.0
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf, as the baseline's TfidfVectorizer
        self.tf = counts
        self.model = LogisticRegression(C=c, max_iter=2000, random_state=seed, warm_start=True)

    def fit_predict(self, train: np.ndarray, labels: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Fit on the rows ``train`` (indices into the titles) and return P(up) for the rows ``score``."""
        document_frequency = np.asarray(self.present[train].sum(axis=0)).ravel()
        idf = np.log((1 + len(train)) / (1 + document_frequency)) + 1.0  # smooth_idf, as sklearn's default
        weights = sparse.diags(idf)
        self.model.fit(normalize(self.tf[train] @ weights), labels)
        return self.model.predict_proba(normalize(self.tf[score] @ weights))[:, 1]
