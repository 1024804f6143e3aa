"""Builtin evaluator ``logistic-probe`` on real data (scikit-learn's digits)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.utils.estimator_checks import check_estimator

from zoo.errors import OptionsError
from zoo.plugins import get_component, make_manager, validate_options
from zoo.testing import single_threaded


@pytest.fixture(autouse=True)
def _one_thread():
    with single_threaded(blas=True):
        yield


@pytest.fixture(scope="module")
def component():
    return get_component("evaluator", "logistic-probe", manager=make_manager(builtins=("probes",), entry_points=False))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:1200], y[:1200], X[1200:], y[1200:]


def probe(component, **options):
    return component.obj(**vars(validate_options(component, options)))


def test_learns_digits(component, digits):
    Xtr, ytr, Xte, yte = digits
    est = probe(component).fit(Xtr, ytr)
    assert est.score(Xte, yte) > 0.9
    proba = est.predict_proba(Xte)
    assert proba.shape == (len(Xte), 10) and np.allclose(proba.sum(1), 1)
    assert list(est.classes_) == list(range(10))


def test_options_reach_the_estimator(component, digits):
    Xtr, ytr, Xte, yte = digits
    strong = probe(component, C=1e-4, standardize=False).fit(Xtr, ytr)
    weak = probe(component, C=10.0, standardize=False).fit(Xtr, ytr)
    assert strong.get_params()["C"] == 1e-4
    assert np.abs(strong.model_[-1].coef_).sum() < np.abs(weak.model_[-1].coef_).sum()
    assert len(probe(component, standardize=True).fit(Xtr, ytr).model_) == 2


def test_option_errors(component):
    with pytest.raises(OptionsError, match="Did you mean: 'C'"):
        validate_options(component, {"c": 1.0})
    with pytest.raises(OptionsError, match="C must be positive"):
        validate_options(component, {"C": 0})


def test_scikit_learn_conventions(component, digits):
    Xtr, ytr, Xte, _ = digits
    est = probe(component, C=0.5)
    assert clone(est).get_params() == {"C": 0.5, "max_iter": 1000, "standardize": True, "seed": 0, "c_grid": (),
                                      "warm_start": False}
    with pytest.raises(NotFittedError):
        est.predict(Xte)
    assert cross_val_score(est, Xtr, ytr, cv=3).mean() > 0.9
    a = clone(est).fit(Xtr, ytr).predict_proba(Xte)
    b = clone(est).fit(Xtr, ytr).predict_proba(Xte)
    assert np.array_equal(a, b)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_passes_scikit_learns_own_estimator_checks(component):
    failed = [r for r in check_estimator(probe(component), on_fail=None) if r["status"] == "failed"]
    assert failed == []


def test_standardize_floors_near_constant_features():
    """A feature with a ~1e-33 spread (as all-MiniLM-L6-v2 has) must not blow up under a tiny shift."""
    import numpy as np
    from sklearn.datasets import load_digits

    from zoo.probes.logistic import LogisticProbe

    X, y = load_digits(return_X_y=True)
    X = np.hstack([X, np.random.default_rng(0).normal(0, 1e-33, size=(len(X), 1))])
    probe = LogisticProbe(max_iter=300).fit(X[:1200], y[:1200])
    shifted = X[1200:].copy()
    shifted[:, -1] += 1e-6  # a perturbation far below anything meaningful
    assert probe.score(shifted, y[1200:]) == pytest.approx(probe.score(X[1200:], y[1200:]), abs=0.01)


# --- the float32 L-BFGS solver, the regularization path and the selection ------------------


def _agreement(a, b, X) -> float:
    return float((a.predict(X) == b.predict(X)).mean())


@pytest.mark.parametrize("binary", [False, True])
def test_solver_matches_scikit_learn_logistic_regression(digits, binary):
    """Same objective and optimizer as LogisticRegression(lbfgs): the same model up to the solver tolerance."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from zoo.probes.logistic import LogisticProbe

    Xtr, ytr, Xte, yte = digits
    if binary:
        ytr, yte = ytr % 2, yte % 2
    ours = LogisticProbe(C=0.5).fit(Xtr, ytr)
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000)).fit(Xtr, ytr)
    assert _agreement(ours, ref, Xte) >= 0.99
    assert ours.score(Xte, yte) == pytest.approx(ref.score(Xte, yte), abs=0.01)
    assert ours.model_[-1].coef_.shape == ref[-1].coef_.shape  # binary: one weight vector, as scikit-learn
    assert ours.converged_


def test_path_equals_separate_fits_and_warm_start_refits(digits):
    from zoo.probes.logistic import LogisticProbe

    Xtr, ytr, Xte, yte = digits
    cs = [1.0, 0.01, 0.1]  # any order: the path runs in increasing C and answers in this order
    path = LogisticProbe().fit_path(Xtr, ytr, cs)
    assert [p.C for p in path] == cs
    for c, fitted in zip(cs, path):
        assert _agreement(fitted, LogisticProbe(C=c).fit(Xtr, ytr), Xte) >= 0.99
    warm = path[0].set_params(warm_start=True).fit(np.concatenate([Xtr, Xte[:200]]), np.concatenate([ytr, yte[:200]]))
    cold = LogisticProbe(C=1.0).fit(np.concatenate([Xtr, Xte[:200]]), np.concatenate([ytr, yte[:200]]))
    assert _agreement(warm, cold, Xte[200:]) >= 0.99
    assert warm.n_iter_[0] < cold.n_iter_[0]  # the point of starting from the previous solution


def test_selection_path_and_grid_search_choose_alike(digits):
    """The warm-started path and GridSearchCV over a PredefinedSplit give the same scores and choice."""
    from zoo.probes.logistic import LogisticProbe
    from zoo.probes.selection import select_on_split

    Xtr, ytr, Xte, yte = digits
    fit, select = (Xtr[:900], ytr[:900]), (Xtr[900:], ytr[900:])
    score = lambda est, X, y: float((est.predict(X) == y).mean())  # noqa: E731
    grid = {"C": [1e-4, 1e-2, 1.0]}
    path = select_on_split(LogisticProbe(), grid, fit, select, score)

    class NoPath(LogisticProbe):
        fit_path = None  # type: ignore[assignment]

    searched = select_on_split(NoPath(), grid, fit, select, score)
    assert path.best == searched.best and path.fitted is not None and searched.fitted is None
    for a, b in zip(path.trials, searched.trials):
        assert a["params"] == b["params"] and a["accuracy"] == pytest.approx(b["accuracy"], abs=0.01)
    assert path.trials[0]["accuracy"] < path.best_score  # C=1e-4 underfits: the grid matters
