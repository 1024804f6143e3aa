"""``KNNProbe``: DINO's weighted k-NN classifier, as a scikit-learn estimator."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

__all__ = ["KNNProbe"]

_EPS = 1e-12


def _l2_normalize(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), _EPS)


class KNNProbe(ClassifierMixin, BaseEstimator):
    """Weighted k-NN on L2-normalized features with exp(similarity / temperature) votes (DINO).

    Parameters: ``k`` neighbours (at most the number of training samples is used) and
    ``temperature``. Fitted attributes: ``classes_``, ``n_features_in_``, ``train_features_``
    (normalized), ``train_labels_`` (indices into ``classes_``). Test samples are scored
    1024 at a time, which bounds memory to 1024 x n_train similarities.
    """

    def __init__(self, k: int = 20, temperature: float = 0.07):
        self.k = k
        self.temperature = temperature

    def fit(self, X, y):
        """Store the normalized training features and their labels; returns self."""
        X, y = check_X_y(X, y, dtype=np.float64)
        check_classification_targets(y)
        if int(self.k) < 1 or not self.temperature > 0:
            raise ValueError(f"need k >= 1 and temperature > 0, got k={self.k}, temperature={self.temperature}")
        self.classes_, self.train_labels_ = np.unique(y, return_inverse=True)
        self.train_features_ = _l2_normalize(X)
        self.n_features_in_ = X.shape[1]
        return self

    def _votes(self, X, batch_size: int = 1024) -> np.ndarray:
        check_is_fitted(self, "train_features_")
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                "features as input."
            )
        X = _l2_normalize(X)
        k = min(int(self.k), len(self.train_features_))
        n_classes = len(self.classes_)
        votes = np.zeros((len(X), n_classes))
        for start in range(0, len(X), batch_size):
            sims = X[start:start + batch_size] @ self.train_features_.T
            # top-k by similarity (unordered), then ordered so column 0 holds the most similar
            idx = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else np.tile(
                np.arange(sims.shape[1]), (len(sims), 1))
            top = np.take_along_axis(sims, idx, axis=1)
            order = np.argsort(-top, axis=1, kind="stable")
            idx, top = np.take_along_axis(idx, order, axis=1), np.take_along_axis(top, order, axis=1)
            # exp(s / T) up to a per-row factor exp(max / T), which cancels when normalizing
            weights = np.exp((top - top[:, :1]) / self.temperature)
            labels = self.train_labels_[idx]
            rows = np.arange(len(top))[:, None]
            np.add.at(votes[start:start + batch_size], (np.broadcast_to(rows, labels.shape), labels), weights)
        return votes

    def predict_proba(self, X):
        """Summed neighbour votes per class, normalized to sum to 1 (columns follow ``classes_``)."""
        votes = self._votes(X)
        return votes / votes.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The class with the largest summed vote."""
        votes = self._votes(X)
        return self.classes_[np.argmax(votes, axis=1)]
