"""Builtin task heads: ``linear`` and ``mlp``.

A head maps pooled backbone features ``(batch, in_features)`` to ``(batch, num_classes)``.
Builders import torch when called, not when this module is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..hookspecs import hookimpl

__all__ = ["LinearOptions", "MLPOptions", "build_linear", "build_mlp"]


@dataclass(frozen=True)
class LinearOptions:
    """Options of the ``linear`` head."""

    dropout: float = field(default=0.0, metadata={"help": "dropout probability applied to the features"})
    bias: bool = field(default=True, metadata={"help": "learn an additive bias"})

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class MLPOptions:
    """Options of the ``mlp`` head."""

    hidden: int = field(default=256, metadata={"help": "width of each hidden layer"})
    layers: int = field(default=1, metadata={"help": "number of hidden layers (at least 1)"})
    activation: Literal["gelu", "relu", "tanh"] = field(
        default="gelu", metadata={"help": "non-linearity after each hidden layer"}
    )
    dropout: float = field(default=0.1, metadata={"help": "dropout probability after each activation"})
    norm: bool = field(default=False, metadata={"help": "LayerNorm before each activation"})

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.layers < 1:
            raise ValueError(f"hidden and layers must be at least 1, got hidden={self.hidden}, layers={self.layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


def _check_sizes(in_features: int, num_classes: int) -> None:
    if in_features < 1 or num_classes < 1:
        raise ValueError(f"in_features and num_classes must be positive, got {in_features}, {num_classes}")


def build_linear(in_features: int, num_classes: int, options: LinearOptions | None = None):
    """A linear classifier on the features (dropout, then one affine layer): linear probing's head."""
    from collections import OrderedDict

    from torch import nn

    _check_sizes(in_features, num_classes)
    opts = options or LinearOptions()
    return nn.Sequential(
        OrderedDict(dropout=nn.Dropout(opts.dropout), fc=nn.Linear(in_features, num_classes, bias=opts.bias))
    )


def build_mlp(in_features: int, num_classes: int, options: MLPOptions | None = None):
    """A multi-layer perceptron head: [Linear, (LayerNorm), activation, Dropout] x layers, then Linear."""
    from torch import nn

    _check_sizes(in_features, num_classes)
    opts = options or MLPOptions()
    activation = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh}[opts.activation]
    blocks: list[nn.Module] = []
    width = in_features
    for _ in range(opts.layers):
        blocks.append(nn.Linear(width, opts.hidden))
        if opts.norm:
            blocks.append(nn.LayerNorm(opts.hidden))
        blocks += [activation(), nn.Dropout(opts.dropout)]
        width = opts.hidden
    blocks.append(nn.Linear(width, num_classes))
    return nn.Sequential(*blocks)


@hookimpl
def register_heads(register):
    register("linear", build_linear, options=LinearOptions)
    register("mlp", build_mlp, options=MLPOptions)
