"""ResNets in plain torch: the ImageNet layout of torchvision/timm and the CIFAR layout (option A).

Parameter names follow timm's ``ResNet`` (``conv1``, ``bn1``, ``layer1`` … ``layer4``, ``fc``;
blocks ``conv1``/``bn1``/``conv2``/``bn2`` [``conv3``/``bn3``] and ``downsample.0``/``downsample.1``),
so a timm or torchvision ResNet-18/34/50/101/152 state dict loads without renaming.

The CIFAR layout (He et al. 2016, section 4.2) has a 3x3 stem, three stages of ``n`` BasicBlocks
with 16/32/64 channels and "option A" shortcuts: identity, or a stride-2 subsample with
zero-padded channels (no parameters). ResNet-20/32/44/56 have ``n`` = 3/5/7/9. Its classifier
is called ``fc`` here as in the ImageNet layout; :func:`akamaster_key_map` renames the keys of
the akamaster/pytorch_resnet_cifar10 checkpoints (``module.`` prefix, ``linear``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ArchitectureError
from zoo.models.image import ImageBackboneMixin, ImageInput, groups_by_prefix

__all__ = ["ResNetConfig", "ResNet", "BasicBlock", "Bottleneck", "RESNET_DEPTHS", "akamaster_key_map"]

#: ImageNet depths -> (block, blocks per stage); CIFAR depths are 6n+2 with BasicBlocks.
RESNET_DEPTHS: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


@dataclass(frozen=True)
class ResNetConfig:
    """The shape of a ResNet. ``layout``: ``"imagenet"`` (7x7 stem, max-pool, 4 stages, 1x1 conv
    shortcuts) or ``"cifar"`` (3x3 stem, 3 stages of 16/32/64 channels, option-A shortcuts)."""

    depth: int = 50
    layout: Literal["imagenet", "cifar"] = "imagenet"
    num_classes: int = 1000
    in_chans: int = 3

    def __post_init__(self) -> None:
        if self.layout not in ("imagenet", "cifar"):
            raise ArchitectureError(f"resnet layout {self.layout!r} is not 'imagenet' or 'cifar'.")
        if self.layout == "imagenet" and self.depth not in RESNET_DEPTHS:
            raise ArchitectureError(
                f"ImageNet ResNet depth {self.depth} is not one of {sorted(RESNET_DEPTHS)}.")
        if self.layout == "cifar" and (self.depth < 8 or (self.depth - 2) % 6):
            raise ArchitectureError(f"CIFAR ResNet depth {self.depth} is not 6n+2 (20, 32, 44, 56, 110, ...).")

    @property
    def block(self) -> str:
        return "basic" if self.layout == "cifar" else RESNET_DEPTHS[self.depth][0]

    @property
    def stage_blocks(self) -> tuple[int, ...]:
        if self.layout == "cifar":
            return ((self.depth - 2) // 6,) * 3
        return RESNET_DEPTHS[self.depth][1]

    @property
    def widths(self) -> tuple[int, ...]:
        return (16, 32, 64) if self.layout == "cifar" else (64, 128, 256, 512)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ResNetConfig:
        known = {k: raw[k] for k in ("depth", "layout", "num_classes", "in_chans") if k in raw}
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return {"architecture": "resnet", **asdict(self)}


class _PadShortcut(nn.Module):
    """Option A: subsample by ``stride`` and zero-pad the new channels on both sides."""

    def __init__(self, stride: int, extra: int):
        super().__init__()
        self.stride, self.extra = stride, extra

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra - half))


def _conv_shortcut(inplanes: int, outplanes: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inplanes, outplanes, 1, stride=stride, bias=False), nn.BatchNorm2d(outplanes))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut (``expansion`` 1)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, *, option_a: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = (_PadShortcut(stride, planes - inplanes) if option_a
                               else _conv_shortcut(inplanes, planes, stride))

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided, as torchvision v1.5 and timm), 1x1 expand (``expansion`` 4)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, *, option_a: bool = False):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != out:
            self.downsample = _PadShortcut(stride, out - inplanes) if option_a else _conv_shortcut(inplanes, out, stride)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


class ResNet(ImageBackboneMixin, nn.Module):
    """A ResNet backbone: ``forward_features`` gives globally average-pooled features,
    ``forward_head`` the pretrained classifier's logits (``forward`` = both)."""

    def __init__(self, config: ResNetConfig, input_spec: ImageInput | None = None,
                 class_names: tuple[str, ...] = ()):
        super().__init__()
        self.config = config
        cifar = config.layout == "cifar"
        stem = config.widths[0]
        if cifar:
            self.conv1 = nn.Conv2d(config.in_chans, stem, 3, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(config.in_chans, stem, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.maxpool: nn.Module = nn.Identity() if cifar else nn.MaxPool2d(3, stride=2, padding=1)
        block = BasicBlock if config.block == "basic" else Bottleneck
        inplanes = stem
        self.stage_names: tuple[str, ...] = tuple(f"layer{i + 1}" for i in range(len(config.widths)))
        for i, (planes, count) in enumerate(zip(config.widths, config.stage_blocks)):
            blocks = []
            for j in range(count):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block(inplanes, planes, stride, option_a=cifar))
                inplanes = planes * block.expansion
            self.add_module(self.stage_names[i], nn.Sequential(*blocks))
        self.num_features = inplanes
        self.fc = nn.Linear(inplanes, config.num_classes)
        self._init_weights()
        size = 32 if cifar else 224
        self.init_image_backbone(input_spec or ImageInput(size=(size, size)), class_names)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def embedding_dim(self) -> int:
        return self.num_features

    def forward_maps(self, x: Tensor) -> Tensor:
        """Unpooled feature maps of the last stage, ``(B, C, H', W')``."""
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x

    def forward_features(self, batch: Tensor) -> Tensor:
        return self.forward_maps(batch).mean(dim=(2, 3))

    def forward_head(self, features: Tensor) -> Tensor:
        return self.fc(features)

    def group_matcher(self) -> list:
        return groups_by_prefix(self, [("stem", ("conv1.", "bn1."))]
                                + [(name, (name + ".",)) for name in self.stage_names])

    def classifier_prefix(self) -> str:
        return "fc"


def akamaster_key_map(key: str) -> str | None:
    """akamaster/pytorch_resnet_cifar10 checkpoint keys -> this module's CIFAR layout keys."""
    key = key.removeprefix("module.")
    if key.startswith("linear."):
        return "fc." + key[len("linear."):]
    return key
