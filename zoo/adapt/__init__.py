"""Domain adaptation: the same feature space, a different data distribution.

Methods come in two levels (:class:`zoo.contracts.AdaptationMethod`):

* ``features``: adapt a classifier trained on frozen source features to unlabeled target
  features (:mod:`zoo.adapt.features`: CORAL through skada, self-training; :mod:`zoo.adapt.dann`:
  domain-adversarial training of a small network over the features);
* ``model``: change the network itself with unlabeled target inputs (:mod:`zoo.adapt.norm`:
  AdaBN re-estimates normalization statistics, TENT minimizes prediction entropy on the
  normalization layers' affine parameters).

Choosing a method's hyperparameters never reads target labels: :mod:`zoo.adapt.criteria` scores
candidates by prediction entropy on the unlabeled target, by source validation accuracy, or by
importance-weighted source validation.
"""

from __future__ import annotations

__all__ = ["CRITERIA"]

#: Unsupervised model-selection criteria, by name (see :mod:`zoo.adapt.criteria`).
CRITERIA: tuple[str, ...] = ("entropy", "source-validation", "importance-weighted")
