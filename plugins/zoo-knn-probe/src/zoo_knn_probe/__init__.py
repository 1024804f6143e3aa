"""transferzoo plugin: ``knn-probe``, a DINO-style weighted k-NN evaluator on frozen features.

Importing this module is cheap: the estimator (numpy, scikit-learn) is imported only when zoo
collects evaluators.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zoo import hookimpl

__all__ = ["KNNProbeOptions", "register_evaluators"]

__version__ = "0.1.0"


@dataclass(frozen=True)
class KNNProbeOptions:
    """Options of ``knn-probe`` (the constructor arguments of ``KNNProbe``)."""

    k: int = field(default=20, metadata={"help": "number of nearest neighbours that vote"})
    temperature: float = field(default=0.07, metadata={"help": "votes weigh exp(cosine similarity / temperature)"})

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")


@hookimpl
def register_evaluators(register):
    from .estimator import KNNProbe

    register("knn-probe", KNNProbe, options=KNNProbeOptions)
