"""Builtin evaluator: ``mteb-classification`` (the MTEB classification protocol).

The estimator class lives in :mod:`zoo.probes.mteb` and is imported only when evaluators are
collected, so importing this module stays free of numpy and scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..hookspecs import hookimpl

__all__ = ["MtebOptions"]


@dataclass(frozen=True)
class MtebOptions:
    """Options of ``mteb-classification`` (the constructor arguments of ``MtebClassification``)."""

    samples_per_label: int = field(
        default=8, metadata={"help": "train examples kept per label in each experiment (MTEB: 8)"})
    n_experiments: int = field(
        default=10, metadata={"help": "experiments, each on a fresh sample; the score is their mean (MTEB: 10)"})
    max_iter: int = field(
        default=100, metadata={"help": "lbfgs iterations of LogisticRegression (MTEB: 100)"})
    seed: int = field(
        default=42, metadata={"help": "numpy seed of the sampling and the solver's random_state (MTEB: 42); "
                                      "independent of the recipe seed so results match MTEB's"})

    def __post_init__(self) -> None:
        for name in ("samples_per_label", "n_experiments", "max_iter"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@hookimpl
def register_evaluators(register):
    from ..probes.mteb import MtebClassification

    register("mteb-classification", MtebClassification, options=MtebOptions,
             summary="MTEB classification protocol: LogisticRegression(max_iter=100) on n samples per label, "
                     "mean over n experiments.")
