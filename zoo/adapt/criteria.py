"""Choosing adaptation hyperparameters without target labels.

* ``entropy``: mean prediction entropy on the unlabeled target split (lower is better; Morerio et
  al., 2018, "minimal-entropy correlation alignment"). Scores are returned negated so that higher
  is always better.
* ``source-validation``: accuracy on the labeled source validation split.
* ``importance-weighted``: source validation accuracy weighted by ``p(target|x) / p(source|x)``
  from a logistic domain classifier (importance-weighted cross-validation, Sugiyama et al., 2007).

None of them reads a target label: the only target data they see is the unlabeled split.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["prediction_entropy", "importance_weights", "score_candidate"]


def prediction_entropy(proba: np.ndarray) -> float:
    """Mean Shannon entropy (nats) of the rows of ``proba``."""
    p = np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0)
    return float(-(p * np.log(p)).sum(axis=1).mean())


def importance_weights(X_source: np.ndarray, X_target: np.ndarray, X_eval: np.ndarray, *, seed: int = 0,
                       clip: float = 20.0) -> np.ndarray:
    """``p(target|x) / p(source|x)`` at ``X_eval``, corrected for the domain sizes and clipped to ``clip``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.vstack([X_source, X_target])
    d = np.r_[np.zeros(len(X_source)), np.ones(len(X_target))]
    domain = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000, random_state=seed)).fit(X, d)
    p = np.clip(domain.predict_proba(X_eval)[:, 1], 1e-6, 1 - 1e-6)
    w = p / (1 - p) * (len(X_source) / len(X_target))
    return np.minimum(w, clip)


def score_candidate(criterion: str, adapted: Any, *, X_target: np.ndarray, X_val: np.ndarray | None,
                    y_val: np.ndarray | None, X_source: np.ndarray | None = None, seed: int = 0) -> float:
    """Score a fitted adapted classifier by ``criterion`` (higher is better).

    ``adapted`` has ``predict_proba(X_target)``; for the source-side criteria it may also have
    ``source_view(X)``, mapping source features the way it saw them in training (CORAL).
    """
    from ..errors import AdaptationError

    if criterion == "entropy":
        return -prediction_entropy(adapted.predict_proba(X_target))
    if X_val is None or y_val is None or len(X_val) == 0:
        raise AdaptationError(f"criterion {criterion!r} needs a labeled source validation split; the recipe's "
                              "dataset has none: set [data] validation_fraction, or use criterion = \"entropy\"")
    view = getattr(adapted, "source_view", None)
    Xv = view(X_val) if view is not None else X_val
    correct = (adapted.predict(Xv) == y_val).astype(np.float64)
    if criterion == "source-validation":
        return float(correct.mean())
    if criterion == "importance-weighted":
        w = importance_weights(X_source if X_source is not None else X_val, X_target, X_val, seed=seed)
        return float((w * correct).sum() / w.sum())
    from . import CRITERIA

    raise AdaptationError(f"unknown selection criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
