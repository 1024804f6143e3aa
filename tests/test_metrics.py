"""Accuracy, macro-F1 and their bootstrap intervals; the confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score
from sklearn.metrics import confusion_matrix as sk_confusion

from zoo.runner.metrics import _encode, _macro_f1, classification_metrics, confusion_matrix


def _noisy(n: int, k: int, p_correct: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < p_correct, y, rng.integers(0, k, n))
    return y, pred


def test_point_estimates_match_scikit_learn():
    y, pred = _noisy(3080, 77, 0.8, seed=1)
    m = classification_metrics(y, pred)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"), abs=1e-12)
    assert m["n"] == 3080 and m["n_bootstrap"] == 1000
    assert 0 <= m["accuracy"] <= 1 and 0 <= m["macro_f1"] <= 1


def test_macro_f1_counts_labels_seen_only_in_predictions_like_scikit_learn():
    y = np.array([0, 0, 1, 1])
    pred = np.array([0, 2, 1, 1])  # label 2 never occurs in y_true
    assert classification_metrics(y, pred, n_bootstrap=0)["macro_f1"] == pytest.approx(
        f1_score(y, pred, average="macro"))
    strings = classification_metrics(["a", "a", "b"], ["a", "b", "b"], n_bootstrap=0)
    assert strings["accuracy"] == pytest.approx(2 / 3)


def test_vectorized_bootstrap_macro_f1_equals_scikit_learn_per_resample():
    y, pred = _noisy(500, 12, 0.6, seed=2)
    idx = np.random.default_rng(0).integers(0, 500, size=(40, 500))
    t, p, k = _encode(y, pred)
    ours = _macro_f1(t[idx], p[idx], (t == p)[idx].astype(float), k)
    expected = [f1_score(y[i], pred[i], average="macro") for i in idx]
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def test_interval_is_deterministic_by_seed_and_brackets_the_estimate():
    y, pred = _noisy(2000, 10, 0.75, seed=3)
    a = classification_metrics(y, pred, seed=7)
    b = classification_metrics(y, pred, seed=7)
    c = classification_metrics(y, pred, seed=8)
    assert a == b
    assert a["accuracy_ci95"] != c["accuracy_ci95"]
    for name in ("accuracy", "macro_f1"):
        lo, hi = a[f"{name}_ci95"]
        assert lo < a[name] < hi
        assert hi - lo < 0.06  # about +-1.96 * sqrt(.75 * .25 / 2000) = +-0.019 for accuracy


def test_interval_width_matches_the_binomial_standard_error():
    y, pred = _noisy(4000, 5, 0.7, seed=4)
    m = classification_metrics(y, pred, n_bootstrap=2000)
    acc = m["accuracy"]
    half = 1.96 * np.sqrt(acc * (1 - acc) / len(y))
    lo, hi = m["accuracy_ci95"]
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.15)


def test_repeated_experiments_report_mean_and_std():
    y, p1 = _noisy(1000, 7, 0.8, seed=5)
    _, p2 = _noisy(1000, 7, 0.6, seed=5)
    p2 = np.where(np.random.default_rng(9).random(1000) < 0.6, y, p2)
    m = classification_metrics(y, np.stack([p1, p2]))
    accs = [accuracy_score(y, p1), accuracy_score(y, p2)]
    f1s = [f1_score(y, p1, average="macro"), f1_score(y, p2, average="macro")]
    assert m["accuracy"] == pytest.approx(np.mean(accs))
    assert m["macro_f1"] == pytest.approx(np.mean(f1s))
    assert m["accuracy_std"] == pytest.approx(np.std(accs))
    assert m["macro_f1_std"] == pytest.approx(np.std(f1s))
    assert m["n_experiments"] == 2
    lo, hi = m["accuracy_ci95"]
    assert lo < m["accuracy"] < hi


def test_no_bootstrap_and_bad_inputs():
    m = classification_metrics([0, 1], [0, 1], n_bootstrap=0)
    assert m["accuracy"] == 1.0 and m["accuracy_ci95"] is None
    with pytest.raises(ValueError, match="empty"):
        classification_metrics([], [])
    with pytest.raises(ValueError, match="shapes"):
        classification_metrics([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="n_bootstrap"):
        classification_metrics([0, 1], [0, 1], n_bootstrap=-1)


def test_bootstrap_of_a_large_set_is_chunked_and_still_deterministic():
    y, pred = _noisy(20_000, 3, 0.9, seed=6)  # 1000 x 20000 indices: drawn in several blocks
    a = classification_metrics(y, pred, n_bootstrap=300, seed=1)
    assert a == classification_metrics(y, pred, n_bootstrap=300, seed=1)
    assert a["accuracy_ci95"][0] < a["accuracy"] < a["accuracy_ci95"][1]


def test_confusion_matrix_rows_are_true_labels():
    y, pred = _noisy(300, 6, 0.5, seed=7)
    cm = confusion_matrix(y, pred, 6)
    assert isinstance(cm, list) and all(isinstance(v, int) for row in cm for v in row)
    np.testing.assert_array_equal(np.array(cm), sk_confusion(y, pred, labels=range(6)))
    assert confusion_matrix([0, 0, 1], [1, 1, 1], 3) == [[0, 2, 0], [0, 1, 0], [0, 0, 0]]
    summed = confusion_matrix([0, 1], np.array([[0, 1], [1, 1]]), 2)
    assert summed == [[1, 1], [0, 2]]
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 3], [0, 1], 3)
