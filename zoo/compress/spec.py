"""What a compression pass needs from the model and what it leaves behind (no torch here).

A pass is a :class:`PassSpec`: a callable that follows :class:`zoo.contracts.CompressionPass`
(``apply(model, options, *, example_inputs=None, data=None) -> CompressionReport``) and declares,
as *state tags*, what it needs and what it changes:

``requires``  tags that must hold before it runs (``magnitude-prune`` needs ``float-weights``)
``forbids``   tags that must not hold (``distill`` retrains every weight, so it refuses ``sparse``)
``removes``   tags it destroys (``dynamic-int8`` removes ``float-weights`` and ``float32``)
``adds``      tags it establishes (``magnitude-prune`` adds ``sparse``)

:func:`zoo.compress.check_order` walks a list of passes from :data:`INITIAL_STATE` and raises
:class:`~zoo.errors.CompressionOrderError` at the first pass whose needs are not met, naming the
earlier pass that broke them. A pass registered without these attributes is not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

__all__ = ["TAGS", "INITIAL_STATE", "PassSpec", "TrainingData"]

TAGS: dict[str, str] = {
    "float-weights": "floating-point weights in plain torch.nn.Linear modules",
    "float32": "float32 weights",
    "sparse": "weights zeroed by unstructured pruning",
    "quantized": "int8 weights",
    "half": "fp16/bf16 weights",
    "onnx": "a graph run by ONNX Runtime (no torch modules left to change)",
}
"""Every state tag, with the words used for it in error messages."""

INITIAL_STATE: frozenset[str] = frozenset({"float-weights", "float32"})
"""The state of a freshly trained model: float32 weights in plain ``nn.Linear`` modules."""


@dataclass(frozen=True)
class TrainingData:
    """Task data for passes that train (``distill``): texts and, optionally, integer labels."""

    texts: Sequence[str]
    labels: Sequence[int] | None = None

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.labels) != len(self.texts):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels")


@dataclass(frozen=True)
class PassSpec:
    """A compression pass: the function that applies it and its state contract.

    ``fn(model, options, *, example_inputs, data) -> model`` does the work (it may change
    ``model`` in place and return it, or return a new one); calling the spec wraps the result in
    a :class:`zoo.contracts.CompressionReport` with sizes before and after and the largest output
    deviation measured on ``example_inputs`` (``atol``; ``inf`` when no inputs were given).

    ``exact_size``: the saved model is exactly as big as its tensors (False for passes whose
    sparsity a dense file cannot show). ``needs_data``: the pass trains and requires
    :class:`TrainingData` (it cannot be replayed from the record alone).
    """

    name: str
    fn: Callable[..., Any]
    requires: frozenset[str] = frozenset()
    forbids: frozenset[str] = frozenset()
    removes: frozenset[str] = frozenset()
    adds: frozenset[str] = frozenset()
    needs_data: bool = False
    doc: str = ""
    why_forbidden: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = (self.requires | self.forbids | self.removes | self.adds) - TAGS.keys()
        if unknown:
            raise ValueError(f"pass {self.name!r} uses unknown state tags {sorted(unknown)}; known: {sorted(TAGS)}")
        if self.doc:  # `zoo plugins info` shows the pass's own documentation
            object.__setattr__(self, "__doc__", self.doc)

    def after(self, state: frozenset[str]) -> frozenset[str]:
        """The state once this pass has run on a model in ``state``."""
        return (state - self.removes) | self.adds

    def __call__(self, model: Any, options: Any = None, *, example_inputs: tuple[Any, ...] | None = None,
                 data: TrainingData | None = None) -> Any:
        from zoo.compress.pipeline import apply_spec

        return apply_spec(self, model, options, example_inputs=example_inputs, data=data)
