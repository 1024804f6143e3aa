"""Builtin evaluator: ``logistic-probe`` (scikit-learn LogisticRegression on frozen features).

The estimator class lives in :mod:`zoo.probes.logistic` and is imported only when evaluators
are collected, so importing this module stays free of scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..hookspecs import hookimpl

__all__ = ["LogisticProbeOptions"]


@dataclass(frozen=True)
class LogisticProbeOptions:
    """Options of ``logistic-probe`` (the constructor arguments of ``LogisticProbe``)."""

    C: float = field(default=1.0, metadata={"help": "inverse L2 regularization strength (larger: weaker)"})
    max_iter: int = field(default=1000, metadata={"help": "maximum lbfgs iterations"})
    standardize: bool = field(default=True, metadata={"help": "z-score features with training-set statistics"})
    seed: int = field(default=0, metadata={"help": "random seed passed to the solver"})
    c_grid: tuple[float, ...] = field(default=(), metadata={
        "help": "values of C to sweep, chosen on validation only (CLIP-style); empty: use C as given"})
    warm_start: bool = field(default=False, metadata={
        "help": "start a refit from the previous fit's coefficients (the C path does this itself)"})

    def __post_init__(self) -> None:
        if not self.C > 0:
            raise ValueError(f"C must be positive, got {self.C}")
        if any(not c > 0 for c in self.c_grid):
            raise ValueError(f"every value in c_grid must be positive, got {list(self.c_grid)}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be at least 1, got {self.max_iter}")


@hookimpl
def register_evaluators(register):
    from ..probes.logistic import LogisticProbe

    register("logistic-probe", LogisticProbe, options=LogisticProbeOptions)
