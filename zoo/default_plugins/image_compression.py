"""Builtin compression passes for convolutional image backbones.

=================== =========================================================== =========================
Pass                What it does                                                 Needs
=================== =========================================================== =========================
``static-int8``     int8 convolutions, BN folded, activations calibrated (FX)    float32, examples;
                                                                                 conv-blocks, batchnorm
``prune-channels``  remove the smallest-L1 inner channels of residual blocks     float weights; conv-blocks
=================== =========================================================== =========================

The architecture capabilities (``conv-blocks``, ``batchnorm``) are declared by the ``resnet`` and
``efficientnet`` builders; a recipe that puts these passes on another backbone (a ViT, a text
encoder) is refused at validation.

See :mod:`zoo.compress.conv`. torch is imported when a pass runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..compress.spec import PassSpec
from ..contracts import PassResult
from ..hookspecs import hookimpl

__all__ = ["StaticInt8Options", "PruneChannelsOptions", "IMAGE_PASSES", "register_compression_passes"]

FLOAT = frozenset({"float-weights"})
FLOAT32 = frozenset({"float-weights", "float32"})


@dataclass(frozen=True)
class StaticInt8Options:
    backend: Literal["x86", "fbgemm", "qnnpack", "onednn"] = field(
        default="x86", metadata={"help": "torch.ao quantized engine the int8 kernels run on"})
    per_channel: bool = field(default=True, metadata={"help": "one weight scale per output channel"})


@dataclass(frozen=True)
class PruneChannelsOptions:
    fraction: float = field(default=0.25, metadata={"help": "share of each block's inner channels to remove"})

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise ValueError(f"fraction must be in (0, 1), got {self.fraction}")


def _static_int8(model: Any, options: StaticInt8Options | None, *, example_inputs: Any = None,
                 **_: Any) -> PassResult:
    from zoo.compress.conv import static_int8

    o = options or StaticInt8Options()
    info = static_int8(model, example_inputs=example_inputs, backend=o.backend, per_channel=o.per_channel)
    return PassResult(info.pop("model"), info)


def _prune_channels(model: Any, options: PruneChannelsOptions | None, **_: Any) -> PassResult:
    from zoo.compress.conv import prune_channels

    return PassResult(model, prune_channels(model, fraction=(options or PruneChannelsOptions()).fraction))


@dataclass(frozen=True)
class ImagePassSpec(PassSpec):
    """A pass for convolutional image backbones; the conformance kit runs it on a tiny ResNet."""

    modalities = ("image",)


IMAGE_PASSES: tuple[tuple[PassSpec, type], ...] = (
    (ImagePassSpec("static-int8", _static_int8, requires=FLOAT32, removes=FLOAT32, adds=frozenset({"quantized"}),
              capabilities=frozenset({"conv-blocks", "batchnorm"}),
              doc="Static post-training int8 of image backbones: convolutions, folded BatchNorm, ReLU, adds and "
                  "pooling in int8, calibrated on example batches (torch.ao FX)."), StaticInt8Options),
    (ImagePassSpec("prune-channels", _prune_channels, requires=FLOAT, capabilities=frozenset({"conv-blocks"}),
              doc="Structured L1 filter pruning of the inner channels of ResNet and EfficientNet blocks (smaller "
                  "convolutions: faster and smaller)."), PruneChannelsOptions),
)


@hookimpl
def register_compression_passes(register) -> None:
    for spec, options in IMAGE_PASSES:
        register(spec.name, spec, summary=spec.doc, options=options)
