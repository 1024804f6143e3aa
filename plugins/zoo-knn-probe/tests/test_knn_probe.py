"""Tests of the knn-probe plugin: zoo's conformance kit, and the DINO rule against a brute-force loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.utils.estimator_checks import check_estimator

import zoo_knn_probe
from zoo.testing import parametrize_with_checks, single_threaded
from zoo_knn_probe.estimator import KNNProbe


@parametrize_with_checks(zoo_knn_probe)
def test_conformance(component, check):
    check(component)


def _brute_force(train, labels, x, k, temperature, n_classes):
    def unit(v):
        norm = max(math.sqrt(sum(a * a for a in v)), 1e-12)
        return [a / norm for a in v]

    q = unit(x)
    sims = sorted(((sum(a * b for a, b in zip(q, unit(t))), i) for i, t in enumerate(train)), key=lambda s: -s[0])
    votes = [0.0] * n_classes
    for sim, i in sims[:k]:
        votes[labels[i]] += math.exp(sim / temperature)
    return votes


def test_matches_the_dino_voting_rule_on_digits():
    X, y = load_digits(return_X_y=True)
    train, test = X[:300], X[300:340]
    with single_threaded(blas=True):
        probe = KNNProbe(k=7, temperature=0.1).fit(train, y[:300])
        proba = probe.predict_proba(test)
    for row, x in zip(proba, test):
        votes = _brute_force(train.tolist(), list(y[:300]), x.tolist(), 7, 0.1, 10)
        np.testing.assert_allclose(row, np.array(votes) / sum(votes), rtol=1e-9, atol=1e-12)


def test_k_larger_than_the_training_set_uses_every_sample():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    probe = KNNProbe(k=50).fit(X, ["a", "b", "a"])
    assert list(probe.predict([[0.9, 0.0], [0.0, 2.0]])) == ["a", "b"]


def test_scale_does_not_matter_cosine():
    X, y = load_digits(return_X_y=True)
    a = KNNProbe().fit(X[:500], y[:500]).predict(X[500:600])
    b = KNNProbe().fit(3.0 * X[:500], y[:500]).predict(0.5 * X[500:600])
    assert np.array_equal(a, b)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="k must be at least 1"):
        zoo_knn_probe.KNNProbeOptions(k=0)
    with pytest.raises(ValueError):
        KNNProbe(temperature=0).fit([[1.0], [2.0]], [0, 1])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_passes_scikit_learns_own_estimator_checks():
    with single_threaded(blas=True):
        results = check_estimator(KNNProbe(), on_fail=None)
    assert [r["check_name"] for r in results if r["status"] == "failed"] == []
