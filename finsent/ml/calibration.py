"""Calibrated P(up): a Platt scaling fitted on the valid part and saved with the model.

Raw P(up) from a TF-IDF logistic regression or from a causal LM's verbaliser logits are scores, not
probabilities: two versions' 0.6 need not mean the same. A one-feature logistic regression on
logit(P(up)), fitted on valid (never on test), maps each version's scores onto observed shares,
so ``p_up``, ``mean_p_up`` and ``bull_share`` mean the same across versions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class PlattCalibration:
    slope: float
    intercept: float
    n_valid: int

    def apply(self, p: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(self.slope * _logit(p) + self.intercept)))

    def to_json(self) -> dict:
        return {"method": "platt", **asdict(self)}

    @classmethod
    def from_json(cls, data: dict) -> PlattCalibration:
        return cls(float(data["slope"]), float(data["intercept"]), int(data["n_valid"]))


def fit_platt(p_valid: np.ndarray, y_valid: np.ndarray) -> PlattCalibration | None:
    """None when valid cannot support a fit (empty, or one class only): P(up) stays raw, and says so."""
    from sklearn.linear_model import LogisticRegression

    y_valid = np.asarray(y_valid, dtype=np.int64)
    if len(y_valid) < 10 or len(np.unique(y_valid)) < 2:
        return None
    # mild regularisation: a few hundred valid posts must not produce a wild slope
    model = LogisticRegression(C=1.0).fit(_logit(p_valid).reshape(-1, 1), y_valid)
    return PlattCalibration(float(model.coef_[0, 0]), float(model.intercept_[0]), len(y_valid))
