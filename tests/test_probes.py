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
    assert clone(est).get_params() == {"C": 0.5, "max_iter": 1000, "standardize": True, "seed": 0, "c_grid": ()}
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
