"""Model selection on a validation split, and the refit after it.

:func:`select_on_split` fits every candidate of a grid on one split and scores it on another: with
scikit-learn's ``GridSearchCV`` over a ``PredefinedSplit`` (one fold: fit on the first split,
score on the second), or, when the grid sweeps only the estimator's declared ``path_param`` and
the estimator has ``fit_path(X, y, values)``, along that regularization path with warm starts
(as scikit-learn's ``LogisticRegressionCV`` does). The scores and the choice are the same
either way: the best score wins, the first listed candidate on ties.

:func:`refit` fits the chosen candidate on more data, starting from the selected fit when the
estimator supports ``warm_start``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = ["Selection", "refit", "select_on_split"]

Scorer = Callable[[Any, np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Selection:
    """The chosen candidate, every candidate's score (in grid order) and, when the selection kept
    it, the chosen candidate fitted on the fit split (a warm start for :func:`refit`)."""

    best: dict[str, Any]
    trials: list[dict[str, Any]]
    fitted: Any = field(default=None, repr=False, compare=False)

    @property
    def best_score(self) -> float:
        return max(t["accuracy"] for t in self.trials if t["params"] == self.best)


def _candidates(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    from sklearn.model_selection import ParameterGrid

    return list(ParameterGrid({k: list(v) for k, v in grid.items()}))


def _path_param(estimator: Any, grid: Mapping[str, Sequence[Any]]) -> str | None:
    name = getattr(estimator, "path_param", None)
    return name if name is not None and callable(getattr(estimator, "fit_path", None)) and list(grid) == [name] else None


def _best(scores: Sequence[float]) -> int:
    return int(np.argmax(scores))  # the first of the highest: ties go to the first listed candidate


def select_on_split(estimator: Any, grid: Mapping[str, Sequence[Any]], fit: tuple[np.ndarray, np.ndarray],
                    select: tuple[np.ndarray, np.ndarray], score: Scorer) -> Selection:
    """Fit each candidate of ``grid`` (option name -> values) on ``fit``, score it on ``select``.

    ``estimator`` is an unfitted estimator with the fixed options set; ``score(fitted, X, y)``
    is the selection metric (higher is better). Only these two splits reach this function.
    """
    candidates = _candidates(grid)
    if not candidates:
        raise ValueError("the search grid has no candidate")
    name = _path_param(estimator, grid)
    if name is not None:
        values = [c[name] for c in candidates]
        fitted = estimator.fit_path(fit[0], fit[1], values)
        scores = [float(score(f, *select)) for f in fitted]
        i = _best(scores)
        chosen = fitted[i]
    else:
        from sklearn.model_selection import GridSearchCV, PredefinedSplit

        X = np.concatenate([fit[0], select[0]])
        y = np.concatenate([fit[1], select[1]])
        fold = np.concatenate([np.full(len(fit[1]), -1), np.zeros(len(select[1]), dtype=int)])
        search = GridSearchCV(estimator, {k: list(v) for k, v in grid.items()}, scoring=score,
                              cv=PredefinedSplit(fold), refit=False, error_score="raise")
        search.fit(X, y)
        scores = [float(s) for s in search.cv_results_["mean_test_score"]]
        i = _best(scores)
        chosen = None
    trials = [{"params": dict(c), "accuracy": s} for c, s in zip(candidates, scores)]
    return Selection(dict(candidates[i]), trials, chosen)


def refit(estimator: Any, params: Mapping[str, Any], X: np.ndarray, y: np.ndarray, *, start: Any = None) -> Any:
    """``estimator`` with ``params`` fitted on ``X, y``; from ``start``'s solution (a fitted
    estimator of the same class, e.g. :attr:`Selection.fitted`) when the estimator has a
    ``warm_start`` option."""
    if start is not None and "warm_start" in start.get_params():
        warm = copy.deepcopy(start)
        warm.set_params(**{**params, "warm_start": True})
        fitted = warm.fit(X, y)
        fitted.set_params(warm_start=estimator.get_params().get("warm_start", False))
        return fitted
    return estimator.set_params(**params).fit(X, y)
