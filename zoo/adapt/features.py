"""Feature-level adaptation: classifiers on frozen features that also see unlabeled target features.

Every function takes source features ``Xs`` with labels ``ys`` and unlabeled target features
``Xt`` (NumPy arrays, one row per example) and returns a fitted classifier with ``predict`` and
``predict_proba`` over *target* features. ``make_classifier()`` builds a fresh, unfitted
scikit-learn classifier (the recipe's probe), so the adapted model and the source-only one use
the same estimator and options.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["CoralClassifier", "fit_coral", "fit_self_training"]


class CoralClassifier:
    """A classifier trained on CORAL-aligned source features, predicting on target features.

    CORAL (Sun, Feng and Saenko, 2016) re-colours the source features with the target covariance:
    ``(Xs - mean_s) C_s^{-1/2} C_t^{1/2} + mean_t``. The covariance estimates and the map come from
    ``skada``'s :class:`~skada.CORALAdapter`; ``reg`` is its shrinkage towards the identity (a
    float in (0, 1]; ``"auto"`` is Ledoit-Wolf, which gives NaN maps on features with a dead
    dimension such as all-MiniLM-L6-v2's, hence a float default).
    """

    def __init__(self, classifier: Any, adapter: Any) -> None:
        self.classifier = classifier
        self.adapter = adapter

    @property
    def classes_(self) -> np.ndarray:
        return self.classifier.classes_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.classifier.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classifier.predict(X)

    def source_view(self, X: np.ndarray) -> np.ndarray:
        """Source features mapped as in training (for source-side selection criteria)."""
        ones = np.ones(len(X), dtype=int)
        return self.adapter.transform(np.asarray(X, dtype=np.float64), sample_domain=ones, allow_source=True)


def fit_coral(make_classifier: Callable[[], Any], Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, *,
              reg: float = 0.9) -> CoralClassifier:
    """Align ``Xs`` to ``Xt`` with skada's CORAL adapter, then fit the classifier on the aligned source."""
    import sklearn

    try:
        # importing skada turns on scikit-learn's metadata routing for the whole process (which then
        # refuses e.g. Pipeline.fit(..., step__sample_weight=w)); the adapter is called directly and
        # needs no routing, so the caller's setting is kept
        with sklearn.config_context():
            from skada import CORALAdapter
    except ImportError as exc:
        from ..errors import MissingExtraError

        raise MissingExtraError(package="skada", extra="adapt", feature="the coral adaptation method") from exc
    Xs64, Xt64 = np.asarray(Xs, dtype=np.float64), np.asarray(Xt, dtype=np.float64)
    X = np.vstack([Xs64, Xt64])
    domain = np.r_[np.ones(len(Xs64), dtype=int), -np.ones(len(Xt64), dtype=int)]  # skada: >0 source, <0 target
    adapter = CORALAdapter(reg=reg).fit(X, sample_domain=domain)
    aligned = adapter.transform(Xs64, sample_domain=np.ones(len(Xs64), dtype=int), allow_source=True)
    if not np.isfinite(aligned).all():
        from ..errors import AdaptationError

        raise AdaptationError(f"CORAL with reg={reg!r} produced non-finite features: the covariance is "
                              "near-singular; use a larger reg (closer to 1)")
    classifier = make_classifier().fit(np.asarray(aligned, dtype=Xs.dtype), ys)
    return CoralClassifier(classifier, adapter)


def fit_self_training(make_classifier: Callable[[], Any], Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, *,
                      rounds: int = 3, keep: float = 0.8) -> Any:
    """Pseudo-label the most confident target examples and refit, ``rounds`` times.

    Each round predicts the unlabeled target with the current classifier, keeps the ``keep``
    fraction with the highest confidence (max class probability) and refits on the labeled
    source plus those pseudo-labeled target examples. Ties in confidence are broken by index, so
    the result depends only on the data and the classifier's own seed.
    """
    classifier = make_classifier().fit(Xs, ys)
    n_keep = int(round(keep * len(Xt)))
    if n_keep == 0:
        return classifier
    for _ in range(rounds):
        proba = classifier.predict_proba(Xt)
        confidence = proba.max(axis=1)
        chosen = np.sort(np.argsort(-confidence, kind="stable")[:n_keep])
        pseudo = classifier.classes_[proba[chosen].argmax(axis=1)]
        classifier = make_classifier().fit(np.vstack([Xs, Xt[chosen]]), np.concatenate([ys, pseudo]))
    return classifier
