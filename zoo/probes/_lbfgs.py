"""L2-regularized logistic regression by L-BFGS with float32 matrix products.

The objective, the optimizer and its stopping rule are scikit-learn's ``LogisticRegression(
solver="lbfgs")``: the mean log-loss plus ``||W||^2 / (2 C n)`` (intercepts not penalized),
minimized by ``scipy.optimize.minimize(method="L-BFGS-B")`` with ``gtol=tol``, ``maxls=50`` and
``ftol=64 * eps``; multinomial for three or more classes, binomial (one weight vector) for two.
What differs is the arithmetic: scikit-learn evaluates the loss in float64 (float32 features are
upcast on every call), this module multiplies float32 features by float32 weights and sums the
loss in float64. On dense 384-d sentence features that halves the cost of each evaluation, and the
solution agrees with scikit-learn's to the solver's tolerance.

``w0`` warm-starts the solver (a neighbouring ``C`` on a regularization path, or the same ``C``
on a little more data), which is where most of the saving of a model selection comes from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

__all__ = ["LbfgsResult", "fit_logistic"]


@dataclass(frozen=True)
class LbfgsResult:
    """Fitted weights ``coef`` ``(k, d)`` and ``intercept`` ``(k,)`` (k = 1 for two classes)."""

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: int
    converged: bool

    @property
    def w(self) -> np.ndarray:
        """The flat parameter vector :func:`fit_logistic` takes as ``w0``."""
        return np.concatenate([self.coef, self.intercept[:, None]], axis=1).ravel()


def _multinomial(w: np.ndarray, X: np.ndarray, y: np.ndarray, k: int, l2: float) -> tuple[float, np.ndarray]:
    n, d = X.shape
    W = w.reshape(k, d + 1)
    coef = W[:, :d].astype(np.float32)
    z = X @ coef.T
    z += W[:, d].astype(np.float32)
    zmax = z.max(axis=1, keepdims=True)
    np.subtract(z, zmax, out=z)
    rows = np.arange(n)
    zy = z[rows, y].astype(np.float64)  # log-loss = logsumexp(z) - z_y, z shifted by its row maximum
    np.exp(z, out=z)
    sums = z.sum(axis=1, dtype=np.float64)
    loss = float(np.mean(np.log(sums) - zy)) + 0.5 * l2 * float(np.dot(W[:, :d].ravel(), W[:, :d].ravel()))
    z /= sums[:, None].astype(np.float32)  # probabilities
    z[rows, y] -= 1.0
    z /= np.float32(n)
    grad = np.empty_like(W)
    grad[:, :d] = (z.T @ X).astype(np.float64) + l2 * W[:, :d]
    grad[:, d] = z.sum(axis=0, dtype=np.float64)
    return loss, grad.ravel()


def _binomial(w: np.ndarray, X: np.ndarray, y: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    n, d = X.shape
    z = (X @ w[:d].astype(np.float32)).astype(np.float64) + w[d]
    # log(1 + exp(z)) - y z, computed stably
    loss = float(np.mean(np.logaddexp(0.0, z) - y * z)) + 0.5 * l2 * float(np.dot(w[:d], w[:d]))
    r = (1.0 / (1.0 + np.exp(-z)) - y) / n
    grad = np.empty_like(w)
    grad[:d] = (r.astype(np.float32) @ X).astype(np.float64) + l2 * w[:d]
    grad[d] = r.sum()
    return loss, grad


def fit_logistic(X: np.ndarray, y: np.ndarray, n_classes: int, *, C: float, max_iter: int = 1000,
                 tol: float = 1e-4, w0: np.ndarray | None = None) -> LbfgsResult:
    """Fit on features ``X`` (cast to float32) and labels ``y`` in ``0..n_classes-1``.

    ``w0``: a starting point (:attr:`LbfgsResult.w` of an earlier fit with as many classes and
    features); zeros otherwise, as scikit-learn starts.
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    n, d = X.shape
    k = 1 if n_classes == 2 else n_classes
    l2 = 1.0 / (C * n)
    size = k * (d + 1)
    start = np.zeros(size) if w0 is None else np.asarray(w0, dtype=np.float64).copy()
    if start.shape != (size,):
        raise ValueError(f"w0 has shape {start.shape}; expected ({size},) for {n_classes} classes and {d} features.")
    if k == 1:
        fun, args = _binomial, (X, y.astype(np.float64), l2)
    else:
        fun, args = _multinomial, (X, y, k, l2)
    res = optimize.minimize(fun, start, method="L-BFGS-B", jac=True, args=args,
                            options={"maxiter": max_iter, "maxls": 50, "gtol": tol,
                                     "ftol": 64 * np.finfo(float).eps})
    W = res.x.reshape(k, d + 1)
    return LbfgsResult(W[:, :d].copy(), W[:, d].copy(), int(res.nit), bool(res.success))
