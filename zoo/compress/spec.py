"""What a compression pass needs from the model and what it leaves behind (no torch here).

A pass is a :class:`PassSpec`: plain data naming the function that does the work
(``fn(model, options, *, example_inputs=None, data=None) -> zoo.contracts.PassResult``), the
architecture ``capabilities`` it needs (``prune-heads`` needs ``attention-heads``: a recipe whose
backbone's architecture does not declare them is refused at validation) and, as *state tags*,
what it needs and what it changes:

``requires``  tags that must hold before it runs (``magnitude-prune`` needs ``float-weights``)
``forbids``   tags that must not hold (``distill`` retrains every weight, so it refuses ``sparse``)
``removes``   tags it destroys (``dynamic-int8`` removes ``float-weights`` and ``float32``)
``adds``      tags it establishes (``magnitude-prune`` adds ``sparse``)

:func:`zoo.compress.check_order` walks a list of passes from :data:`INITIAL_STATE` and raises
:class:`~zoo.errors.CompressionOrderError` at the first pass whose needs are not met, naming the
earlier pass that broke them. A pass registered without these attributes is not checked.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

__all__ = ["TAGS", "INITIAL_STATE", "PassSpec", "TrainingData", "ResolvedPass", "resolve_passes"]

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

    ``fn(model, options, *, example_inputs, data) -> PassResult`` does the work (it may change
    ``model`` in place, or return a new one). ``capabilities``: architecture capabilities the
    pass needs (an architecture builder declares its own as a ``capabilities`` attribute).
    :func:`zoo.compress.pipeline.apply_spec` runs a spec and measures sizes and output change.

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
    capabilities: frozenset[str] = frozenset()
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


# --- naming passes ------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedPass:
    """A pass ready to run: its name, callable (usually a :class:`PassSpec`), options and component."""

    name: str
    spec: Any
    options: Any = None
    component: Any = None

    def options_dict(self) -> dict[str, Any]:
        """The options as JSON-ready data (tuples become lists)."""
        if self.options is None:
            return {}
        if dataclasses.is_dataclass(self.options):
            return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self.options).items()}
        return dict(self.options)

    @property
    def spec_needs_data(self) -> bool:
        return bool(getattr(self.spec, "needs_data", False))

    @property
    def plugin(self) -> str | None:
        return getattr(self.component, "plugin", None)


def resolve_passes(passes: Sequence[Any], *, manager: Any = None) -> list[ResolvedPass]:
    """Turn names, ``(name, options)`` pairs, components or specs into :class:`ResolvedPass` es.

    Raises:
        UnknownComponentError: a name no plugin provides.
        OptionsError: options that do not fit the pass's schema.
    """
    from zoo.plugins import get_component, validate_options

    out: list[ResolvedPass] = []
    for item in passes:
        if isinstance(item, ResolvedPass):
            out.append(item)
            continue
        target, options = (item if isinstance(item, tuple) else (item, None))
        if isinstance(target, str):
            target = get_component("compression", target, manager=manager)
        if isinstance(target, PassSpec):
            out.append(ResolvedPass(target.name, target, options))
            continue
        if options is None or isinstance(options, Mapping):
            options = validate_options(target, options or {})
        out.append(ResolvedPass(target.name, target.obj, options, target))
    return out
