"""Classification metrics with percentile-bootstrap confidence intervals.

:func:`classification_metrics` scores predictions against labels: accuracy and macro-F1 (as
fractions in 0..1) and a 95% confidence interval for each, from a percentile bootstrap over test
examples (``n_bootstrap`` resamples, all drawn at once from ``numpy.random.default_rng(seed)``,
so the same inputs and seed give the same interval). Macro-F1 follows scikit-learn's
``f1_score(average="macro")``: the mean F1 over every label present in ``y_true`` or ``y_pred``,
each resample averaging over the labels present in that resample.

Predictions from repeated experiments on one test set (the MTEB protocol) can be passed as a 2-D
array, one row per experiment: the metrics are then the means over experiments, with their
standard deviations, and the bootstrap resamples the shared test examples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["classification_metrics", "confusion_matrix"]

_CHUNK = 1 << 22  # bootstrap indices drawn per block (32 MiB of int64)


def _encode(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Map labels of any dtype to 0..K-1 over the union of ``y_true`` and ``y_pred``."""
    classes, inverse = np.unique(np.concatenate([y_true.ravel(), y_pred.ravel()]), return_inverse=True)
    t = inverse[: y_true.size].reshape(y_true.shape)
    p = inverse[y_true.size :].reshape(y_pred.shape)
    return t.astype(np.int64), p.astype(np.int64), len(classes)


def _macro_f1(true_idx: np.ndarray, pred_idx: np.ndarray, correct: np.ndarray, k: int) -> np.ndarray:
    """Macro-F1 of each row: ``true_idx``/``pred_idx``/``correct`` have shape (R, n).

    Per row and class: F1 = 2 TP / (support + predicted); classes absent from both the row's
    labels and predictions are left out of the mean, as scikit-learn does.
    """
    rows = true_idx.shape[0]
    offset = (np.arange(rows, dtype=np.int64) * k)[:, None]
    size = rows * k
    support = np.bincount((offset + true_idx).ravel(), minlength=size).reshape(rows, k)
    predicted = np.bincount((offset + pred_idx).ravel(), minlength=size).reshape(rows, k)
    tp = np.bincount((offset + true_idx).ravel(), weights=correct.ravel(), minlength=size).reshape(rows, k)
    denom = support + predicted
    present = denom > 0
    f1 = np.divide(2.0 * tp, denom, out=np.zeros_like(tp), where=present)
    return f1.sum(1) / np.maximum(present.sum(1), 1)


def _interval(values: np.ndarray) -> list[float]:
    lo, hi = np.percentile(values, [2.5, 97.5])
    return [float(lo), float(hi)]


def _bootstrap(t: np.ndarray, p: np.ndarray, correct: np.ndarray, k: int, n_bootstrap: int,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro-F1 (mean over experiments) of ``n_bootstrap`` resamples of the test examples."""
    n, experiments = t.shape[0], p.shape[0]
    rng = np.random.default_rng(seed)
    mean_correct = correct.mean(0)
    boot_acc, boot_f1 = np.empty(n_bootstrap), np.zeros(n_bootstrap)
    step = max(1, _CHUNK // n)  # depends on n only, so results depend on (inputs, seed) only
    for start in range(0, n_bootstrap, step):
        rows = min(step, n_bootstrap - start)
        idx = rng.integers(0, n, size=(rows, n))  # resamples shared by every experiment
        boot_acc[start : start + rows] = mean_correct[idx].mean(1)
        t_idx = t[idx]
        for e in range(experiments):
            boot_f1[start : start + rows] += _macro_f1(t_idx, p[e][idx], correct[e][idx], k)
    return boot_acc, boot_f1 / experiments


def classification_metrics(y_true: Any, y_pred: Any, *, n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """Accuracy and macro-F1 of ``y_pred`` against ``y_true``, with bootstrap 95% intervals.

    ``y_pred`` is a 1-D array of predictions, or a 2-D array ``(experiments, n)`` of predictions
    from repeated experiments on the same test examples.

    Returns a dict: ``accuracy``, ``macro_f1`` (fractions 0..1), ``accuracy_ci95`` and
    ``macro_f1_ci95`` (``[lo, hi]``, 2.5th and 97.5th percentiles of ``n_bootstrap`` resamples of
    the test examples; ``None`` when ``n_bootstrap`` is 0), ``n`` (test examples) and
    ``n_bootstrap``. With 2-D predictions also ``n_experiments``, ``accuracy_std`` and
    ``macro_f1_std`` (population standard deviation over experiments, as MTEB reports).

    Raises:
        ValueError: empty inputs, shapes that do not match, or a negative ``n_bootstrap``.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    repeated = y_pred.ndim == 2
    preds = y_pred if repeated else y_pred[None, :]
    if y_true.ndim != 1 or preds.ndim != 2 or preds.shape[1] != y_true.shape[0]:
        raise ValueError(
            f"y_true must be 1-D and y_pred 1-D of the same length or 2-D (experiments, n); "
            f"got shapes {y_true.shape} and {y_pred.shape}."
        )
    n = y_true.shape[0]
    if n == 0 or preds.shape[0] == 0:
        raise ValueError("cannot compute metrics on an empty set of predictions.")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}.")

    t, p, k = _encode(y_true, preds)
    experiments = p.shape[0]
    correct = (p == t[None, :]).astype(np.float64)  # (E, n)
    acc_e = correct.mean(1)
    f1_e = _macro_f1(np.broadcast_to(t, p.shape), p, correct, k)
    out: dict[str, Any] = {"accuracy": float(acc_e.mean()), "macro_f1": float(f1_e.mean())}

    if n_bootstrap:
        boot_acc, boot_f1 = _bootstrap(t, p, correct, k, n_bootstrap, seed)
        out["accuracy_ci95"] = _interval(boot_acc)
        out["macro_f1_ci95"] = _interval(boot_f1)
    else:
        out["accuracy_ci95"] = out["macro_f1_ci95"] = None
    out["n"] = int(n)
    out["n_bootstrap"] = int(n_bootstrap)
    if repeated:
        out["n_experiments"] = int(experiments)
        out["accuracy_std"] = float(acc_e.std())
        out["macro_f1_std"] = float(f1_e.std())
    return out


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int) -> list[list[int]]:
    """Counts ``[true][predicted]`` for labels ``0..n_classes-1`` (rows: true labels).

    ``y_pred`` may be 2-D (repeated experiments); the counts are then summed over experiments.

    Raises:
        ValueError: a label outside ``0..n_classes-1`` or mismatched shapes.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    preds = y_pred if y_pred.ndim == 2 else y_pred[None, :]
    if y_true.ndim != 1 or preds.shape[-1] != y_true.shape[0]:
        raise ValueError(f"shapes do not match: y_true {y_true.shape}, y_pred {y_pred.shape}.")
    for name, arr in (("y_true", y_true), ("y_pred", preds)):
        if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
            raise ValueError(f"{name} has labels outside 0..{n_classes - 1}.")
    flat = (np.broadcast_to(y_true, preds.shape) * n_classes + preds).ravel()
    counts = np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    return counts.tolist()
