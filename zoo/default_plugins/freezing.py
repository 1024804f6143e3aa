"""Builtin freezing policies: ``none``, ``all-but-head``, ``first-k``, ``bitfit``, ``norm-only``, ``pattern``.

Every policy takes a model whose backbone parameters live under ``backbone.`` and whose head
parameters live under ``head.`` (``head_prefix``), sets ``requires_grad`` on *every* parameter
(so applying a policy twice, or after another one, gives the same result), keeps the head
trainable, and returns a :class:`zoo.contracts.FreezeReport`.

Layers for ``first-k`` come from the backbone's ``group_matcher()`` (:class:`zoo.contracts.Backbone`):
the first group is the stem (embeddings, patch embedding), the groups after it are the layers.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from ..contracts import FreezeReport, backbone_groups
from ..errors import FreezingPolicyError, did_you_mean
from ..hookspecs import hookimpl

__all__ = [
    "FirstKOptions",
    "PatternOptions",
    "freeze_none",
    "freeze_all_but_head",
    "freeze_first_k",
    "freeze_bitfit",
    "freeze_norm_only",
    "freeze_pattern",
]

@dataclass(frozen=True)
class FirstKOptions:
    """Options of the ``first-k`` policy."""

    k: int = field(default=6, metadata={"help": "number of encoder layers to freeze, counted from the input"})

    def __post_init__(self) -> None:
        if self.k < 0:
            raise ValueError(f"k must be >= 0, got {self.k}")


@dataclass(frozen=True)
class PatternOptions:
    """Options of the ``pattern`` policy."""

    trainable: tuple[str, ...] = field(
        default=(), metadata={"help": "parameter-name patterns left trainable (the head always is)"}
    )
    syntax: Literal["glob", "regex"] = field(
        default="glob", metadata={"help": "glob: fnmatch on the full name; regex: re.search on the name"}
    )


def _head_names(names: list[str], head_prefix: str, policy: str) -> set[str]:
    head = {n for n in names if n.startswith(head_prefix + ".")}
    if not head:
        raise FreezingPolicyError(
            f"freezing policy {policy!r}: the model has no parameter under {head_prefix + '.'!r}; "
            f"it expects the backbone under 'backbone.' and the head under '{head_prefix}.' "
            f"(first parameters: {', '.join(names[:3]) or 'none'})."
        )
    return head


def _apply(model: Any, train: Callable[[str, Any], bool]) -> FreezeReport:
    for name, param in model.named_parameters():
        param.requires_grad_(bool(train(name, param)))
    return FreezeReport.from_model(model)


def freeze_none(model: Any, options: Any = None, *, head_prefix: str = "head") -> FreezeReport:
    """Train every parameter (full fine-tuning)."""
    return _apply(model, lambda name, p: True)


def freeze_all_but_head(model: Any, options: Any = None, *, head_prefix: str = "head") -> FreezeReport:
    """Freeze the whole backbone and train only the head (linear probing when the head is linear)."""
    head = _head_names([n for n, _ in model.named_parameters()], head_prefix, "all-but-head")
    return _apply(model, lambda name, p: name in head)


def freeze_first_k(model: Any, options: FirstKOptions | None = None, *, head_prefix: str = "head") -> FreezeReport:
    """Freeze the embeddings (stem) and the first k layers of ``group_matcher()``; train the rest and the head."""
    opts = options or FirstKOptions()
    head = _head_names([n for n, _ in model.named_parameters()], head_prefix, "first-k")
    groups = backbone_groups(model)
    count = len(groups) - 1
    if count < 1:
        raise FreezingPolicyError("freezing policy 'first-k': the backbone's group_matcher() lists no layer "
                                  "groups after its stem. Use the 'pattern' policy instead.")
    if opts.k > count:
        raise FreezingPolicyError(f"freezing policy 'first-k': k={opts.k} but the backbone has {count} layers.")
    frozen = {n for _, names_ in groups[: opts.k + 1] for n in names_} - head
    return _apply(model, lambda name, p: name not in frozen)


def freeze_bitfit(model: Any, options: Any = None, *, head_prefix: str = "head") -> FreezeReport:
    """BitFit: train only the bias terms of the backbone, and the head."""
    head = _head_names([n for n, _ in model.named_parameters()], head_prefix, "bitfit")
    return _apply(model, lambda name, p: name in head or name.rsplit(".", 1)[-1] == "bias")


def _norm_parameter_names(model: Any) -> set[str]:
    from torch import nn

    norm_types: tuple[type, ...] = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase)
    if hasattr(nn, "RMSNorm"):
        norm_types += (nn.RMSNorm,)
    names: set[str] = set()
    for mod_name, module in model.named_modules():
        if isinstance(module, norm_types) or type(module).__name__.endswith("Norm"):
            prefix = f"{mod_name}." if mod_name else ""
            names.update(prefix + n for n, _ in module.named_parameters(recurse=False))
    return names


def freeze_norm_only(model: Any, options: Any = None, *, head_prefix: str = "head") -> FreezeReport:
    """Train only normalization parameters (LayerNorm, BatchNorm, GroupNorm, RMSNorm, *Norm) and the head."""
    head = _head_names([n for n, _ in model.named_parameters()], head_prefix, "norm-only")
    norms = _norm_parameter_names(model)
    return _apply(model, lambda name, p: name in head or name in norms)


def freeze_pattern(model: Any, options: PatternOptions | None = None, *, head_prefix: str = "head") -> FreezeReport:
    """Train the parameters whose names match any pattern (glob or regex), and the head; freeze the rest."""
    opts = options or PatternOptions()
    names = [n for n, _ in model.named_parameters()]
    head = _head_names(names, head_prefix, "pattern")
    if opts.syntax == "regex":
        try:
            compiled = [re.compile(p) for p in opts.trainable]
        except re.error as exc:
            raise FreezingPolicyError(f"freezing policy 'pattern': invalid regex ({exc}).") from exc
        matchers = [(p, rx.search) for p, rx in zip(opts.trainable, compiled)]
    else:
        matchers = [(p, (lambda n, p=p: fnmatch.fnmatchcase(n, p))) for p in opts.trainable]
    for pattern, match in matchers:
        if not any(match(n) for n in names):
            raise FreezingPolicyError(
                f"freezing policy 'pattern': {pattern!r} ({opts.syntax}) matches no parameter."
                f"{did_you_mean(pattern, names)} Parameter names look like {names[0]!r}."
            )
    return _apply(model, lambda name, p: name in head or any(m(name) for _, m in matchers))


@hookimpl
def register_freezing_policies(register):
    register("none", freeze_none)
    register("all-but-head", freeze_all_but_head)
    register("first-k", freeze_first_k, options=FirstKOptions)
    register("bitfit", freeze_bitfit)
    register("norm-only", freeze_norm_only)
    register("pattern", freeze_pattern, options=PatternOptions)
