"""``LogisticProbe``: multinomial logistic regression on frozen features (a linear probe)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from ._lbfgs import LbfgsResult, fit_logistic

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
    """Logistic-regression probe on frozen features: scikit-learn's L2 ``LogisticRegression``
    objective and L-BFGS solver, evaluated with float32 matrix products (:mod:`zoo.probes._lbfgs`).

    Parameters are the ``logistic-probe`` options: ``C`` (inverse L2 strength), ``max_iter``,
    ``standardize`` (z-score features with statistics of the training set first), ``seed`` and
    ``c_grid`` (values of ``C`` that :func:`zoo.runner.evaluate.evaluate` sweeps on validation;
    ``fit`` itself uses ``C``). ``warm_start``: start the solver from this probe's previous
    solution (mapped to the new standardization) instead of zeros, as scikit-learn's option does.
    Fitted attributes: ``classes_``, ``n_features_in_``, ``n_iter_``, ``converged_`` and
    ``model_``: a scikit-learn pipeline (scaler, ``LogisticRegression``) holding the fitted
    coefficients, which predicts as scikit-learn does.
    """

    #: the option :meth:`fit_path` sweeps with warm starts (see :mod:`zoo.probes.selection`)
    path_param = "C"

    #: declared search space (read by :func:`zoo.runner.evaluate.search_space`): with ``C = "auto"``
    #: the evaluator sweeps :data:`DEFAULT_C_GRID` on validation, refined by :data:`REFINE_STEPS`
    search_space = {"C": DEFAULT_C_GRID}
    search_refine = REFINE_STEPS

    def __init__(self, C: float = 1.0, max_iter: int = 1000, standardize: bool = True, seed: int = 0,
                 c_grid: tuple[float, ...] = (), warm_start: bool = False):
        self.C = C
        self.c_grid = c_grid
        self.max_iter = max_iter
        self.standardize = standardize
        self.seed = seed
        self.warm_start = warm_start

    def _prepare(self, X, y):
        X, y = check_X_y(X, y, dtype=np.float64)
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"need at least 2 classes to fit a probe, got {len(classes)} class")
        scaler = _FlooredScaler().fit(X) if self.standardize else None
        Z = scaler.transform(X) if scaler is not None else X
        return Z, y_idx, classes, scaler

    def fit(self, X, y):
        """Fit on features ``X`` of shape (n_samples, n_features) and labels ``y``; returns self."""
        if not self.C > 0:
            raise ValueError(f"C must be positive, got {self.C}")
        Z, y_idx, classes, scaler = self._prepare(X, y)
        w0 = self._warm_point(scaler, len(classes), Z.shape[1]) if self.warm_start else None
        result = fit_logistic(Z, y_idx, len(classes), C=self.C, max_iter=self.max_iter, w0=w0)
        return self._set_fitted(result, classes, scaler, Z.shape[1])

    def fit_path(self, X, y, values: Sequence[float]) -> list["LogisticProbe"]:
        """One probe per value of ``C`` in ``values`` (in that order), fitted on ``X, y``.

        The fits run in increasing ``C``, each starting from the previous solution (the
        regularization path), and share one standardization: each equals, to the solver's
        tolerance, ``LogisticProbe(C=value).fit(X, y)``.
        """
        if any(not c > 0 for c in values):
            raise ValueError(f"every C must be positive, got {list(values)}")
        Z, y_idx, classes, scaler = self._prepare(X, y)
        fitted: dict[float, LogisticProbe] = {}
        w0 = None
        for c in sorted(set(values)):
            result = fit_logistic(Z, y_idx, len(classes), C=c, max_iter=self.max_iter, w0=w0)
            w0 = result.w
            fitted[c] = self._clone_with(C=c)._set_fitted(result, classes, scaler, Z.shape[1])
        return [fitted[c] for c in values]

    def _clone_with(self, **params) -> "LogisticProbe":
        return type(self)(**{**self.get_params(), **params})

    def _warm_point(self, scaler, n_classes: int, n_features: int) -> np.ndarray | None:
        """The previous solution in this fit's standardized space, or None (no usable previous fit)."""
        raw = getattr(self, "_raw_", None)
        if raw is None or raw[0].shape[1] != n_features or len(self.classes_) != n_classes:
            return None
        coef, intercept = raw  # the decision function on unstandardized features: X @ coef.T + intercept
        if scaler is not None:
            intercept = intercept + coef @ scaler.mean_
            coef = coef * scaler.scale_
        return np.concatenate([coef, intercept[:, None]], axis=1).ravel()

    def _set_fitted(self, result: LbfgsResult, classes, scaler, n_features: int) -> "LogisticProbe":
        clf = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed)
        clf.classes_, clf.coef_, clf.intercept_ = classes, result.coef, result.intercept
        clf.n_features_in_, clf.n_iter_ = n_features, np.array([result.n_iter], dtype=np.int32)
        self.model_ = make_pipeline(scaler, clf) if scaler is not None else make_pipeline(clf)
        coef, intercept = result.coef, result.intercept
        if scaler is not None:
            coef = coef / scaler.scale_
            intercept = intercept - coef @ scaler.mean_
        self._raw_ = (coef, intercept)
        self.classes_ = classes
        self.n_features_in_ = n_features
        self.n_iter_ = clf.n_iter_
        self.converged_ = result.converged
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
