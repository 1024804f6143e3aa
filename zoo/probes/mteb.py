"""``MtebClassification``: the MTEB classification protocol as a scikit-learn style estimator.

It reproduces ``AbsTaskClassification`` of MTEB 1.x (``mteb/abstasks/AbsTaskClassification.py``
with ``logRegClassificationEvaluator``), the protocol behind the published MTEB classification
scores:

1. ``n_experiments`` times (default 10): shuffle the train indices with ``numpy.random`` seeded
   with ``seed`` (MTEB: 42) and keep the first ``samples_per_label`` (default 8) examples of each
   label. As in MTEB, the generator is re-seeded before every shuffle (MTEB's ``Evaluator``
   constructor calls ``np.random.seed(42)``) and the *same* index array is shuffled again each
   time, so experiment ``i`` sees the seeded permutation applied ``i + 1`` times.
2. Fit ``LogisticRegression(max_iter=100, random_state=seed)`` (lbfgs, C=1, multinomial) on the
   sampled embeddings as they are: MTEB does not normalize or standardize (an encoder that
   L2-normalizes, like all-MiniLM-L6-v2, does so itself).
3. Score each experiment on the full test set; report the mean (and std) over experiments.

On the Banking77 files of PolyAI (the order MTEB's ``mteb/banking77`` dataset keeps) and
all-MiniLM-L6-v2 features this gives the 10 per-experiment accuracies of the published MTEB
result one by one (mean 80.04).

``fit`` runs every experiment; ``predict_all`` returns one row of predictions per experiment,
which :func:`zoo.runner.evaluate.evaluate` scores as repeated experiments. ``predict`` returns
the first experiment's predictions and ``score`` the mean accuracy over experiments (MTEB's main
score).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

__all__ = ["MtebClassification", "mteb_undersample"]


def mteb_undersample(y, samples_per_label: int, n_experiments: int, seed: int = 42) -> list[np.ndarray]:
    """The train indices each MTEB experiment fits on, in MTEB's order.

    Same as MTEB 1.x ``_undersample_data``: one index array, shuffled in place before each
    experiment by ``numpy.random`` freshly seeded with ``seed``; the first ``samples_per_label``
    indices of each label are kept (fewer when a label has fewer examples).
    """
    labels = np.asarray(y).tolist()
    if samples_per_label < 1 or n_experiments < 1:
        raise ValueError(f"samples_per_label and n_experiments must be >= 1, got {samples_per_label}, {n_experiments}")
    idxs = np.arange(len(labels))
    out = []
    for _ in range(n_experiments):
        np.random.RandomState(seed).shuffle(idxs)  # == np.random.seed(seed); np.random.shuffle(idxs)
        counts: dict = {}
        kept = []
        for i in idxs.tolist():
            c = counts.get(labels[i], 0)
            if c < samples_per_label:
                kept.append(i)
                counts[labels[i]] = c + 1
        out.append(np.asarray(kept, dtype=np.int64))
    return out


class MtebClassification(ClassifierMixin, BaseEstimator):
    """MTEB classification protocol: logistic regression on n samples per label, n experiments.

    Parameters are the ``mteb-classification`` options. Fitted attributes: ``classes_``,
    ``n_features_in_``, ``estimators_`` (one ``LogisticRegression`` per experiment),
    ``sample_indices_`` (the train rows each experiment used), ``n_iter_`` (lbfgs iterations per
    experiment) and ``converged_`` (False where an experiment stopped at ``max_iter``, as MTEB's
    runs can; MTEB keeps those fits and so does this class).
    """

    def __init__(self, samples_per_label: int = 8, n_experiments: int = 10, max_iter: int = 100, seed: int = 42):
        self.samples_per_label = samples_per_label
        self.n_experiments = n_experiments
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, X, y):
        """Run every experiment on features ``X`` and labels ``y``; returns self."""
        X, y = check_X_y(X, y)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes, got {len(self.classes_)}")
        self.n_features_in_ = X.shape[1]
        self.sample_indices_ = mteb_undersample(y, self.samples_per_label, self.n_experiments, self.seed)
        self.estimators_, iters = [], []
        for idx in self.sample_indices_:
            clf = LogisticRegression(max_iter=self.max_iter, random_state=self.seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X[idx], y[idx])
            self.estimators_.append(clf)
            iters.append(int(np.max(clf.n_iter_)))
        self.n_iter_ = np.asarray(iters)
        self.converged_ = self.n_iter_ < self.max_iter
        return self

    def _X(self, X):
        check_is_fitted(self, "estimators_")
        X = check_array(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} expects {self.n_features_in_}.")
        return X

    def predict_all(self, X) -> np.ndarray:
        """Predictions of every experiment: shape ``(n_experiments, n_samples)``."""
        X = self._X(X)
        return np.stack([clf.predict(X) for clf in self.estimators_])

    def predict(self, X):
        """The first experiment's predictions (use :meth:`predict_all` for the protocol)."""
        X = self._X(X)
        return self.estimators_[0].predict(X)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy over the experiments (MTEB's main score for classification)."""
        preds = self.predict_all(X)
        return float((preds == np.asarray(y)[None, :]).mean())
