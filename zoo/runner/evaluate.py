"""Evaluators on frozen features: fit a probe, choose its hyperparameters, score it.

:func:`evaluate` runs one evaluator component (a scikit-learn style estimator class, see
``register_evaluators``) under one of three protocols:

**Standard** (a test split is given, or ``folds`` is not set). Hyperparameters are never chosen on
the split that is scored:

* with a search space (below) and a validation split, each candidate is fitted on train and
  scored on validation; the best one (highest validation accuracy, the first listed on ties) is
  refitted on **train + validation** and scored on test, as in CLIP's linear-probe evaluation
  (``details["validation"]["accuracy"]`` is then the chosen candidate's validation score, which a
  ``[sweep]`` can compare trials on);
* with a search space but no validation split (or no test split, so that validation is the split
  scored), the candidates are compared on a stratified inner split of train
  (:data:`INNER_VALIDATION_FRACTION`, from ``seed``) and the best is refitted on all of train;
* without a search space the estimator is fitted on train only. Metrics are computed on test, or
  on validation when there is no test split.

**k-fold cross-validation** (``folds`` set and no test split; SentEval's MR/CR/SUBJ/MPQA
protocol): train (plus validation, when given) is split by
``StratifiedKFold(folds, shuffle=True, random_state=seed)``; in each fold the hyperparameters are
chosen on an inner split of the fold's training part, refitted on all of it and scored on the
held-out fold. ``accuracy`` and ``macro_f1`` are the means over folds, ``*_std`` their standard
deviations, and the 95% intervals come from a bootstrap of the pooled out-of-fold predictions.

**Repeated experiments**: an estimator with ``predict_all(X) -> (experiments, n)`` (the
``mteb-classification`` protocol) is scored per experiment; metrics are the means over
experiments with their standard deviations (see :func:`zoo.runner.metrics.classification_metrics`).

**Search space.** An estimator opts in to a hyperparameter sweep through its options:

* an option ``<name>_grid`` (e.g. ``c_grid = [0.01, 0.1, 1, 10]``) that is not empty sweeps the
  option ``<name>`` (matched case-insensitively: ``c_grid`` sweeps ``C``) over those values;
* an option set to ``"auto"`` (or ``None``) sweeps the values the estimator class declares in its
  ``search_space = {"name": (...)}`` attribute; a class that also declares ``search_refine = n``
  has a single swept numeric option refined by ``n`` bisection steps in log space around the best
  value (``logistic-probe`` declares CLIP's coarse ``C`` sweep, refined twice; see
  :mod:`zoo.probes.logistic`). The runner knows no hyperparameter by name.

Several swept options are searched as a full grid.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from ..probes.selection import refit
from .metrics import classification_metrics, confusion_matrix

__all__ = [
    "INNER_VALIDATION_FRACTION",
    "EvalResult",
    "SearchSpace",
    "evaluate",
    "search_space",
]

INNER_VALIDATION_FRACTION = 0.2
"""Share of the training data held out to choose hyperparameters when no validation split serves."""

_AUTO = "auto"


@dataclass(frozen=True)
class EvalResult:
    """What :func:`evaluate` returns.

    ``metrics``: ``accuracy``, ``macro_f1`` (fractions), ``accuracy_ci95``, ``macro_f1_ci95``,
    ``n`` and, for k-fold or repeated experiments, ``accuracy_std``/``macro_f1_std``.
    ``details``: the protocol, the split scored, the hyperparameters chosen and every candidate's
    validation score, validation metrics, per-fold or per-experiment scores, fit time.
    ``confusion``: ``[true][predicted]`` counts on the scored split (summed over experiments or
    pooled over folds), or None when labels are not ``0..n_classes-1``.
    """

    name: str
    metrics: dict
    details: dict
    confusion: list[list[int]] | None
    seconds: float


@dataclass(frozen=True)
class SearchSpace:
    """The hyperparameters to sweep: ``grid`` (option name -> candidate values) and whether the
    single swept value is refined by log-space bisection around the best coarse value."""

    grid: dict[str, tuple]
    refine: int = 0

    def __bool__(self) -> bool:
        return bool(self.grid)

    def candidates(self) -> list[dict[str, Any]]:
        names = list(self.grid)
        return [dict(zip(names, values)) for values in itertools.product(*(self.grid[n] for n in names))]


# --- options and search space -------------------------------------------------------------


def _options(component: Any, options: Any) -> Any:
    if options is None:
        return component.defaults() if hasattr(component, "defaults") else None
    if isinstance(options, Mapping):
        from ..plugins import validate_options

        return validate_options(component, options)
    return options


def _params(options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    if dataclasses.is_dataclass(options):
        return {f.name: getattr(options, f.name) for f in dataclasses.fields(options) if f.init}
    raise TypeError(f"options must be an options dataclass instance, a mapping or None, got {type(options).__name__}")


def search_space(component: Any, options: Any = None) -> SearchSpace:
    """The sweep :func:`evaluate` runs for ``component`` with ``options`` (empty: no sweep).

    Raises:
        ValueError: a ``*_grid`` option names no option, or an option is ``"auto"`` and no grid
            is known for it.
    """
    params = _params(_options(component, options))
    declared = dict(getattr(component.obj, "search_space", None) or {})
    declared_refine = int(getattr(component.obj, "search_refine", 0) or 0)
    by_lower = {name.lower(): name for name in params}
    grid: dict[str, tuple] = {}
    refine = 0
    for name, value in params.items():
        if name.endswith("_grid") and value:
            target = by_lower.get(name[: -len("_grid")].lower())
            if target is None:
                raise ValueError(f"{component.kind} {component.name!r}: option {name!r} names no option to sweep.")
            grid[target] = tuple(value)
    for name, value in params.items():
        if name in grid:
            continue
        if value == _AUTO or (value is None and name in declared):
            if name in declared:
                grid[name] = tuple(declared[name])
                refine = declared_refine
            else:
                raise ValueError(
                    f"{component.kind} {component.name!r}: option {name!r} is {value!r} but no grid is known "
                    f"for it; give {name}_grid = [...] or a value."
                )
    if len(grid) != 1:
        refine = 0
    return SearchSpace(grid, refine)


# --- fitting ------------------------------------------------------------------------------


def _predict(estimator: Any, X: np.ndarray) -> np.ndarray:
    """1-D predictions, or 2-D ``(experiments, n)`` for repeated-experiment estimators."""
    if hasattr(estimator, "predict_all"):
        return np.asarray(estimator.predict_all(X))
    return np.asarray(estimator.predict(X))


def _accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float((pred == (y if pred.ndim == 1 else y[None, :])).mean())


def _inner_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, select) indices: a stratified split when every class has two examples, else a plain one."""
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    _, counts = np.unique(y, return_counts=True)
    n_select = max(1, int(round(INNER_VALIDATION_FRACTION * len(y))))
    if counts.min() >= 2 and n_select >= len(counts) and len(y) - n_select >= len(counts):
        splitter: Any = StratifiedShuffleSplit(n_splits=1, test_size=n_select, random_state=seed)
    else:
        splitter = ShuffleSplit(n_splits=1, test_size=n_select, random_state=seed)
    fit_idx, select_idx = next(splitter.split(np.zeros(len(y)), y))
    return fit_idx, select_idx


def _select(
    cls: type, params: dict[str, Any], space: SearchSpace, fit: tuple[np.ndarray, np.ndarray],
    select: tuple[np.ndarray, np.ndarray],
) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """Fit each candidate on ``fit``, score it on ``select`` (:func:`zoo.probes.selection.select_on_split`);
    the best candidate, every trial and the best candidate's fit (or None).

    Only these two splits reach this function: the scored split never takes part in selection.
    """
    from ..probes.selection import select_on_split

    def score(estimator: Any, X: np.ndarray, y: np.ndarray) -> float:
        return _accuracy(y, _predict(estimator, X))

    chosen = select_on_split(cls(**params), space.grid, fit, select, score)
    best, best_score, fitted, trials = chosen.best, chosen.best_score, chosen.fitted, list(chosen.trials)
    if space.refine and best:
        (name, value), = best.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            step = _log_spacing(space.grid[name]) / 2
            for _ in range(space.refine):
                center = best[name]
                around = select_on_split(cls(**params), {name: [float(center * 10 ** -step), float(center * 10 ** step)]},
                                         fit, select, score)
                trials += around.trials
                if around.best_score > best_score:
                    best, best_score, fitted = around.best, around.best_score, around.fitted
                step /= 2
    return dict(best), trials, fitted


def _log_spacing(values: Sequence[Any]) -> float:
    logs = sorted(math.log10(v) for v in values if isinstance(v, (int, float)) and v > 0)
    gaps = [b - a for a, b in zip(logs, logs[1:]) if b > a]
    return min(gaps) if gaps else 1.0


def _fit_best(
    cls: type, params: dict[str, Any], space: SearchSpace, X: np.ndarray, y: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None, seed: int,
) -> tuple[Any, dict[str, Any]]:
    """Choose hyperparameters (on ``validation``, else an inner split of ``X``), refit, return the
    fitted estimator and what was done. Without a search space: fit on ``X`` only."""
    info: dict[str, Any] = {}
    start = None
    if space:
        if validation is not None:
            best, trials, start = _select(cls, params, space, (X, y), validation)
            info.update(selected_on="validation", refit_on="train+validation")
            X = np.concatenate([X, validation[0]])
            y = np.concatenate([y, validation[1]])
        else:
            fit_idx, select_idx = _inner_split(y, seed)
            best, trials, start = _select(cls, params, space, (X[fit_idx], y[fit_idx]),
                                          (X[select_idx], y[select_idx]))
            info.update(selected_on=f"inner split of train ({INNER_VALIDATION_FRACTION:g}, seed {seed})",
                        refit_on="train")
        params = {**params, **best}
        info.update(selected=best, trials=trials,
                    selection_accuracy=max(t["accuracy"] for t in trials if t["params"] == best))
    else:
        info["refit_on"] = "train"
    t0 = time.perf_counter()
    estimator = refit(cls(**params), params, X, y, start=start)  # warm from the selected fit when it can
    info["fit_seconds"] = round(time.perf_counter() - t0, 4)
    info["n_fit"] = int(len(y))
    return estimator, info


# --- protocols ----------------------------------------------------------------------------


def _n_classes(label_names: Sequence[str], *ys: np.ndarray) -> int | None:
    """The label count when labels are 0..K-1 integers (K from ``label_names`` when given)."""
    labels = np.concatenate([np.asarray(y).ravel() for y in ys])
    if labels.size == 0 or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        return None
    k = len(label_names) if label_names else int(labels.max()) + 1
    return k if labels.max() < k else None


def _experiments(y: np.ndarray, pred: np.ndarray) -> dict[str, list[float]]:
    from sklearn.metrics import f1_score

    return {"accuracy": [_accuracy(y, row) for row in pred],
            "macro_f1": [float(f1_score(y, row, average="macro")) for row in pred]}


def _standard(
    cls: type, params: dict[str, Any], space: SearchSpace, train: tuple, validation: tuple | None,
    test: tuple | None, seed: int, n_bootstrap: int,
) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    scored = "test" if test is not None else "validation"
    target = test if test is not None else validation
    select_on = validation if test is not None else None  # never choose on the split being scored
    estimator, info = _fit_best(cls, params, space, train[0], train[1], select_on, seed)
    details: dict[str, Any] = {"protocol": "standard", "scored_split": scored, **info}
    if test is not None and validation is not None:
        if space:  # the refit saw validation: report the chosen candidate's validation score instead
            details["validation"] = {"accuracy": info["selection_accuracy"], "n": int(len(validation[1])),
                                     "note": "score of the selected candidate fitted on train only"}
        else:
            val_pred = _predict(estimator, validation[0])
            details["validation"] = classification_metrics(validation[1], val_pred, n_bootstrap=0)
    pred = _predict(estimator, target[0])
    metrics = classification_metrics(target[1], pred, n_bootstrap=n_bootstrap, seed=seed)
    if pred.ndim == 2:
        details["experiments"] = _experiments(target[1], pred)
    for attr in ("converged_", "n_iter_"):
        if hasattr(estimator, attr):
            details[attr.rstrip("_")] = np.asarray(getattr(estimator, attr)).tolist()
    return metrics, details, target[1], pred


def _kfold(
    cls: type, params: dict[str, Any], space: SearchSpace, train: tuple, validation: tuple | None,
    folds: int, seed: int, n_bootstrap: int,
) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    from sklearn.model_selection import StratifiedKFold

    X, y = train
    if validation is not None:
        X, y = np.concatenate([X, validation[0]]), np.concatenate([y, validation[1]])
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    oof: np.ndarray | None = None
    per_fold: list[dict[str, Any]] = []
    for k, (tr, te) in enumerate(splitter.split(np.zeros(len(y)), y)):
        estimator, info = _fit_best(cls, params, space, X[tr], y[tr], None, seed)
        pred = _predict(estimator, X[te])
        if oof is None:
            oof = np.empty(pred.shape[:-1] + (len(y),), dtype=pred.dtype)
        oof[..., te] = pred
        m = classification_metrics(y[te], pred, n_bootstrap=0)
        per_fold.append({"fold": k, "n": int(len(te)), "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                         **({"selected": info["selected"]} if "selected" in info else {})})
    assert oof is not None
    metrics = classification_metrics(y, oof, n_bootstrap=n_bootstrap, seed=seed)  # pooled: the intervals
    accs = np.array([f["accuracy"] for f in per_fold])
    f1s = np.array([f["macro_f1"] for f in per_fold])
    metrics.update(accuracy=float(accs.mean()), accuracy_std=float(accs.std()),
                   macro_f1=float(f1s.mean()), macro_f1_std=float(f1s.std()), folds=int(folds))
    details = {"protocol": f"{folds}-fold cross-validation", "scored_split": "out-of-fold",
               "pooled_validation": validation is not None, "folds": per_fold,
               "selection": f"inner split of each fold's train part ({INNER_VALIDATION_FRACTION:g})" if space else None}
    return metrics, details, y, oof


def _load_thread_pools() -> None:
    """Load scipy's BLAS and scikit-learn's OpenMP runtime: threadpoolctl limits loaded ones only."""
    import scipy.linalg  # noqa: F401
    import sklearn.utils._openmp_helpers  # noqa: F401


def _check_pair(name: str, pair: Any) -> tuple[np.ndarray, np.ndarray] | None:
    if pair is None:
        return None
    X, y = np.asarray(pair[0]), np.asarray(pair[1])
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"{name} must be (features (n, d), labels (n,)); got shapes {X.shape} and {y.shape}.")
    if len(y) == 0:
        raise ValueError(f"{name} is empty.")
    return X, y


def evaluate(
    component: Any,
    options: Any,
    *,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray] | None,
    test: tuple[np.ndarray, np.ndarray] | None,
    folds: int | None = None,
    seed: int = 0,
    label_names: Sequence[str] = (),
    n_bootstrap: int = 1000,
    threads: int | None = 1,
) -> EvalResult:
    """Fit and score evaluator ``component`` on frozen features (see the module docstring).

    ``options``: the component's options dataclass instance, a mapping (validated against its
    schema) or None (its defaults). ``train``/``validation``/``test``: ``(features, labels)``.
    ``folds``: k-fold cross-validation when there is no test split. ``seed`` drives the inner
    splits, the folds and the bootstrap; an estimator's own randomness is its options'.
    ``threads``: the BLAS/OpenMP threads numpy and scikit-learn may use while fitting and
    predicting (``threadpoolctl``; ``None`` leaves them as they are). The default, 1, makes a
    fit's bits independent of the machine's core count (a different count can change the last
    bits of a fit, and so a prediction), and on probe-sized problems it is also the fastest: on a
    busy 2-core machine an lbfgs fit on Banking77 took 3.7 s with 1 thread and 56 s with 2. The
    count in effect is recorded as ``details["blas_threads"]``.

    Raises:
        ValueError: no split to score (no test, no validation and no ``folds``), malformed
            splits, or a search space that cannot be built.
        OptionsError: ``options`` is a mapping that does not match the component's schema.
    """
    t0 = time.perf_counter()
    train_ = _check_pair("train", train)
    validation_ = _check_pair("validation", validation)
    test_ = _check_pair("test", test)
    assert train_ is not None
    opts = _options(component, options)
    params = _params(opts)
    space = search_space(component, opts)
    cls = component.obj
    _load_thread_pools()
    with threadpool_limits(limits=threads):
        blas_threads = sorted({int(p["num_threads"]) for p in threadpool_info() if p.get("user_api") == "blas"})
        metrics, details, y_scored, pred = _run(cls, component, params, space, train_, validation_, test_,
                                                folds, seed, n_bootstrap)
    details["blas_threads"] = blas_threads[0] if len(blas_threads) == 1 else blas_threads
    details["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    if space:
        details["search_space"] = {k: list(v) for k, v in space.grid.items()}
    k = _n_classes(label_names, train_[1], y_scored, pred)
    confusion = confusion_matrix(y_scored, pred, k) if k is not None else None
    return EvalResult(component.name, metrics, details, confusion, time.perf_counter() - t0)


def _run(
    cls: type, component: Any, params: dict[str, Any], space: SearchSpace, train_: tuple,
    validation_: tuple | None, test_: tuple | None, folds: int | None, seed: int, n_bootstrap: int,
) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    if test_ is None and folds:
        if folds < 2:
            raise ValueError(f"folds must be at least 2, got {folds}.")
        metrics, details, y_scored, pred = _kfold(cls, params, space, train_, validation_, folds, seed, n_bootstrap)
    elif test_ is None and validation_ is None:
        raise ValueError(
            f"evaluator {component.name!r}: nothing to score; give a test or validation split, or set folds."
        )
    else:
        metrics, details, y_scored, pred = _standard(cls, params, space, train_, validation_, test_, seed, n_bootstrap)
        if folds and test_ is not None:
            details["folds_ignored"] = f"folds={folds} is not used because a test split is given"
    return metrics, details, y_scored, pred
