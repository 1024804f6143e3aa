"""``LogisticProbe``: multinomial logistic regression on frozen features (a linear probe)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

__all__ = ["LogisticProbe", "DEFAULT_C_GRID", "REFINE_STEPS"]

DEFAULT_C_GRID: tuple[float, ...] = (1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e4, 1e6)
"""CLIP's coarse sweep of the inverse regularization strength ``C`` (every two decades)."""

REFINE_STEPS = 2
"""Bisection steps in log10 space after the coarse ``C`` grid (each adds two fits)."""

_MIN_SCALE = 1e-8


class _FlooredScaler(StandardScaler):
    """A StandardScaler whose per-feature scale is at least ``_MIN_SCALE``.

    Sentence encoders have near-dead output dimensions (all-MiniLM-L6-v2 has one with a standard
    deviation near 1e-33); dividing by that turns any tiny change of the encoder (quantization,
    pruning) into a huge feature that swamps the probe.
    """

    def fit(self, X, y=None, sample_weight=None):
        super().fit(X, y, sample_weight)
        self.scale_ = np.maximum(self.scale_, _MIN_SCALE)
        return self


class LogisticProbe(ClassifierMixin, BaseEstimator):
    """Logistic-regression probe on frozen features (scikit-learn LogisticRegression, lbfgs).

    Parameters are the ``logistic-probe`` options: ``C`` (inverse L2 strength), ``max_iter``,
    ``standardize`` (z-score features with statistics of the training set first), ``seed`` and
    ``c_grid`` (values of ``C`` that :func:`zoo.runner.evaluate.evaluate` sweeps on validation;
    ``fit`` itself uses ``C``).
    Fitted attributes: ``classes_``, ``n_features_in_``, ``n_iter_``, ``model_`` (the fitted pipeline).

    Declared search space (read by :func:`zoo.runner.evaluate.search_space`): with ``C = "auto"``
    the evaluator sweeps :data:`DEFAULT_C_GRID` on validation, refined by :data:`REFINE_STEPS`.
    """

    search_space = {"C": DEFAULT_C_GRID}
    search_refine = REFINE_STEPS

    def __init__(self, C: float = 1.0, max_iter: int = 1000, standardize: bool = True, seed: int = 0,
                 c_grid: tuple[float, ...] = ()):
        self.C = C
        self.c_grid = c_grid
        self.max_iter = max_iter
        self.standardize = standardize
        self.seed = seed

    def fit(self, X, y):
        """Fit on features ``X`` of shape (n_samples, n_features) and labels ``y``; returns self."""
        X, y = check_X_y(X, y, dtype=np.float64)
        check_classification_targets(y)
        if not self.C > 0:
            raise ValueError(f"C must be positive, got {self.C}")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes to fit a probe, got {len(self.classes_)} class")
        clf = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed)
        self.model_ = make_pipeline(_FlooredScaler(), clf) if self.standardize else make_pipeline(clf)
        self.model_.fit(X, y)
        self.n_features_in_ = X.shape[1]
        self.n_iter_ = clf.n_iter_
        return self

    def _X(self, X):
        check_is_fitted(self, "model_")
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                "features as input."
            )
        return X

    def decision_function(self, X):
        X = self._X(X)
        return self.model_.decision_function(X)

    def predict_proba(self, X):
        X = self._X(X)
        return self.model_.predict_proba(X)

    def predict(self, X):
        X = self._X(X)
        return self.model_.predict(X)
