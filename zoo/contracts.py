"""What the object behind each kind of component must be, and the reports they return.

The object each kind of component registers:

- ``head``: a :class:`HeadBuilder`, ``build(in_features, num_classes, options) -> nn.Module``.
- ``freezing``: a :class:`FreezingPolicy`, ``apply(model, options, *, head_prefix) -> FreezeReport``.
- ``compression``: a :class:`CompressionPass`, ``apply(model, options, *, example_inputs, data) -> PassResult``.
- ``evaluator``: a scikit-learn style estimator class (constructor arguments = option fields).
- ``command``: a :class:`zoo.plugins.Command` (built by the ``register`` of ``register_commands``).
- ``adaptation``: an :class:`AdaptationMethod`: ``level``, ``needs``, then ``fit`` or ``adapt``.
- ``architecture``: a builder ``(entry, resolved, *, device) -> Backbone`` (see :class:`Backbone`).

The conformance kit (:mod:`zoo.testing`) checks these contracts. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "FreezeReport",
    "CompressionReport",
    "HeadBuilder",
    "FreezingPolicy",
    "CompressionPass",
    "module_size_bytes",
    "Backbone",
    "LayerGroup",
    "MODALITIES",
    "PassResult",
    "backbone_groups",
    "AdaptationNeeds",
    "AdaptationMethod",
]

#: The input modalities a backbone or dataset may declare.
MODALITIES: tuple[str, ...] = ("text", "image", "vector")


@dataclass(frozen=True)
class LayerGroup:
    """One entry of :meth:`Backbone.group_matcher`: a named group and its parameter names.

    Groups are ordered from the input (embeddings, stem) to the output (last block, final norm);
    ``params`` are full names as in ``named_parameters()``. Freezing (``first-k``), layer-wise
    learning-rate decay and gradual unfreezing read these groups only.
    """

    name: str
    params: tuple[str, ...]


class Backbone(Protocol):
    """What every architecture builder returns (an ``nn.Module`` with these members).

    - ``modality``: one of :data:`MODALITIES`; a recipe whose data has another modality is refused.
    - ``embedding_dim``: width of the pooled features.
    - ``preprocess(inputs)``: raw inputs (texts, images or arrays) to one model batch (a dict of
      tensors or a tensor) on the model's device: tokenization for text, transforms for images.
    - ``forward_features(batch)``: pooled features, a ``(batch, embedding_dim)`` float tensor.
    - ``preprocessing()``: a plain JSON-able description of everything besides the weights that
      changes features (max length, pooling, normalization, image size, mean/std, ...): part of
      the feature-cache key and of the run record.
    - ``group_matcher()``: ordered :class:`LayerGroup` list, input to output (as timm models expose).
    """

    modality: str

    @property
    def embedding_dim(self) -> int: ...

    def preprocess(self, inputs: Any) -> Any: ...

    def forward_features(self, batch: Any) -> torch.Tensor: ...

    def preprocessing(self) -> dict[str, Any]: ...

    def group_matcher(self) -> list[LayerGroup]: ...


def backbone_groups(model: Any, *, prefix: str = "backbone.") -> list[tuple[str, tuple[str, ...]]]:
    """``model.backbone.group_matcher()`` as ``(group name, full parameter names)``, input to output.

    The first group is the stem (embeddings, patch embedding); the groups after it are the layers
    (blocks) that ``first-k``, layer-wise LR decay and gradual unfreezing count.

    Raises:
        FreezingPolicyError: the backbone does not expose ``group_matcher()``.
    """
    from .errors import FreezingPolicyError

    backbone = getattr(model, "backbone", None)
    matcher = getattr(backbone, "group_matcher", None)
    if not callable(matcher):
        raise FreezingPolicyError(
            f"the backbone ({type(backbone).__name__}) has no group_matcher(); layer-wise policies (first-k, "
            "layer_lr_decay, gradual_unfreezing) need the ordered layer groups of zoo.contracts.Backbone. "
            "Use the 'pattern' policy instead.")
    return [(g.name, tuple(prefix + n for n in g.params)) for g in matcher()]


@dataclass(frozen=True)
class FreezeReport:
    """The outcome of a freezing policy.

    ``trainable``: names of the parameters left with ``requires_grad=True``, in
    ``named_parameters()`` order; ``frozen_count``: how many parameter tensors were frozen;
    ``trainable_params`` / ``frozen_params``: element counts.
    """

    trainable: tuple[str, ...]
    frozen_count: int
    trainable_params: int
    frozen_params: int

    @property
    def total_params(self) -> int:
        return self.trainable_params + self.frozen_params

    @classmethod
    def from_model(cls, model: torch.nn.Module) -> FreezeReport:
        """Read the report off ``model``'s current ``requires_grad`` flags."""
        trainable: list[str] = []
        frozen_count = trainable_params = frozen_params = 0
        for name, param in model.named_parameters():
            if param.requires_grad:
                trainable.append(name)
                trainable_params += param.numel()
            else:
                frozen_count += 1
                frozen_params += param.numel()
        return cls(tuple(trainable), frozen_count, trainable_params, frozen_params)


@dataclass(frozen=True)
class CompressionReport:
    """What the pipeline measured around one pass (:func:`zoo.compress.pipeline.apply_spec`).

    ``model``: the compressed module; ``size_bytes`` and ``original_size_bytes``: storage of
    parameters and buffers after and before; ``atol``: the largest output change measured on the
    example inputs (``rtol`` 0); ``info``: the pass's :attr:`PassResult.info`.
    """

    model: Any
    size_bytes: int
    original_size_bytes: int
    atol: float
    rtol: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """``original_size_bytes / size_bytes`` (greater than 1 when the pass shrank the model)."""
        return self.original_size_bytes / self.size_bytes if self.size_bytes else float("inf")


class HeadBuilder(Protocol):
    """Builds a task head mapping ``(batch, in_features)`` to ``(batch, num_classes)``."""

    def __call__(self, in_features: int, num_classes: int, options: Any = None) -> torch.nn.Module: ...


class FreezingPolicy(Protocol):
    """Sets ``requires_grad`` on every parameter of ``model`` and reports the result."""

    def __call__(self, model: torch.nn.Module, options: Any = None, *, head_prefix: str = "head") -> FreezeReport: ...


@dataclass(frozen=True)
class PassResult:
    """What every compression pass returns: the compressed ``model`` (may be the input, changed in
    place) and ``info``, a JSON-ready dict of what the pass did (recorded as is). Sizes, output
    deviation, latency and the task metric are measured by the pipeline, not reported by passes."""

    model: Any
    info: dict[str, Any]


class CompressionPass(Protocol):
    """Compresses ``model``; register it wrapped in :class:`zoo.compress.PassSpec` to declare its
    state requirements and the architecture ``capabilities`` it needs."""

    def __call__(
        self, model: torch.nn.Module, options: Any = None, *, example_inputs: tuple[Any, ...] | None = None,
        data: Any = None,
    ) -> PassResult: ...


def module_size_bytes(module: torch.nn.Module) -> int:
    """Bytes taken by ``module``'s parameters and buffers (shared tensors counted once)."""
    seen: set[int] = set()
    total = 0
    for tensor in list(module.parameters()) + list(module.buffers()):
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        total += tensor.numel() * tensor.element_size()
    return total


@dataclass(frozen=True)
class AdaptationNeeds:
    """What a domain-adaptation method needs from a recipe (checked at validation).

    ``target_inputs``: an unlabeled target split (every method); ``source_labels``: labeled
    source data; ``batchnorm``: a backbone with BatchNorm layers; ``trainable_backbone``: a
    freezing policy that leaves backbone parameters trainable.
    """

    target_inputs: bool = True
    source_labels: bool = False
    batchnorm: bool = False
    trainable_backbone: bool = False

    def missing(self, *, has_target: bool, has_source_labels: bool, has_batchnorm: bool,
                trainable_backbone: bool) -> tuple[str, ...]:
        """The needs the given recipe facts leave unmet, in declaration order."""
        have = {"target_inputs": has_target, "source_labels": has_source_labels, "batchnorm": has_batchnorm,
                "trainable_backbone": trainable_backbone}
        return tuple(k for k, v in have.items() if getattr(self, k) and not v)


class AdaptationMethod(Protocol):
    """A domain-adaptation method (kind ``adaptation``), built as ``cls(options)``.

    ``level = "features"``: ``fit(make_classifier, Xs, ys, Xt, *, seed)`` returns a fitted
    classifier over target features. ``level = "model"``: ``adapt(backbone, target_batches, *,
    seed)`` changes a copy of the backbone in place with unlabeled target batches and returns a
    JSON-able dict of what it did.
    """

    level: str
    needs: AdaptationNeeds
