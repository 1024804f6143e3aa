"""Build an image backbone from a Hub-style snapshot: ``config.json`` + ``model.safetensors``.

``config.json`` is timm's format (what ``timm.models.push_to_hub`` writes), so timm Hub repos
and repos written by ``zoo convert`` read the same way::

    {"architecture": "resnet50", "num_classes": 1000,
     "pretrained_cfg": {"input_size": [3, 224, 224], "mean": [...], "std": [...],
                        "interpolation": "bicubic", "crop_pct": 0.95},
     "label_names": ["tench", ...]}

``architecture`` is a timm model name (``resnet18``, ``tf_efficientnet_lite0``,
``vit_small_patch16_224``, a ``.tag`` suffix is ignored), or a zoo one: ``zoo_architecture``
then holds the native config (``{"architecture": "resnet", "layout": "cifar", "depth": 20}``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

from zoo.errors import ArchitectureError
from zoo.models.efficientnet import EfficientNetLite, EfficientNetLiteConfig
from zoo.models.image import ImageInput
from zoo.models.resnet import RESNET_DEPTHS, ResNet, ResNetConfig
from zoo.models.vit import VIT_SIZES, VisionTransformer, ViTConfig
from zoo.weights import LoadReport, load_into

__all__ = ["IMAGE_ARCHITECTURES", "native_config", "input_spec_from_config", "build_image_model",
           "build_image_backbone", "read_config"]

#: zoo architecture id -> (config class, module class)
IMAGE_ARCHITECTURES: dict[str, tuple[Any, Any]] = {
    "resnet": (ResNetConfig, ResNet),
    "efficientnet": (EfficientNetLiteConfig, EfficientNetLite),
    "vit": (ViTConfig, VisionTransformer),
}
_VIT_RE = re.compile(r"^vit_(tiny|small|base|large)_patch(\d+)_(\d+)$")


def native_config(config: Mapping[str, Any]) -> tuple[str, Any]:
    """``(zoo architecture id, its config object)`` for a timm-style ``config.json`` dict."""
    if "zoo_architecture" in config:
        raw = dict(config["zoo_architecture"])
        arch = raw.pop("architecture", None)
        if arch not in IMAGE_ARCHITECTURES:
            raise ArchitectureError(f"zoo_architecture.architecture {arch!r} is not one of {sorted(IMAGE_ARCHITECTURES)}.")
        raw.setdefault("num_classes", config.get("num_classes", 1000))
        return arch, IMAGE_ARCHITECTURES[arch][0].from_dict(raw)
    name = str(config.get("architecture", "")).split(".")[0]
    num_classes = int(config.get("num_classes", 1000))
    if name.startswith("resnet") and name[6:].isdigit() and int(name[6:]) in RESNET_DEPTHS:
        return "resnet", ResNetConfig(depth=int(name[6:]), layout="imagenet", num_classes=num_classes)
    if name.startswith("tf_efficientnet_lite"):
        return "efficientnet", EfficientNetLiteConfig(variant=name[len("tf_efficientnet_"):], num_classes=num_classes)
    match = _VIT_RE.match(name)
    if match:
        width, depth, heads = VIT_SIZES[match.group(1)]
        return "vit", ViTConfig(embed_dim=width, depth=depth, num_heads=heads, patch_size=int(match.group(2)),
                                img_size=int(match.group(3)), num_classes=num_classes)
    raise ArchitectureError(
        f"config.json architecture {name!r} has no native zoo implementation (resnet18..152, "
        f"tf_efficientnet_lite0..4, vit_<tiny|small|base|large>_patch<P>_<S>). The zoo-timm plugin "
        f"builds any timm architecture.")


def input_spec_from_config(config: Mapping[str, Any], default: ImageInput) -> ImageInput:
    """The input spec of ``config.json``'s ``pretrained_cfg`` (fields it lacks keep ``default``)."""
    cfg = config.get("pretrained_cfg", {}) or {}
    raw = default.to_dict()
    if "input_size" in cfg:
        raw["size"] = list(cfg["input_size"])[-2:]
        raw["channels"] = int(cfg["input_size"][0])
    for key in ("mean", "std", "interpolation", "crop_pct"):
        if cfg.get(key) is not None:
            raw[key] = cfg[key]
    return ImageInput.from_dict(raw)


def read_config(snapshot_dir: Path) -> dict[str, Any]:
    path = Path(snapshot_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"snapshot {snapshot_dir} has no config.json; an image backbone needs one.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArchitectureError(f"{path} is not valid JSON: {exc}") from exc


def build_image_model(config: Mapping[str, Any], *, input_override: Mapping[str, Any] | None = None) -> Any:
    """A randomly initialized native module for a ``config.json`` dict."""
    arch, cfg = native_config(config)
    module_cls = IMAGE_ARCHITECTURES[arch][1]
    model = module_cls(cfg)
    spec = input_spec_from_config(config, model.input_spec)
    if input_override:
        spec = ImageInput.from_dict({**spec.to_dict(), **{k: v for k, v in input_override.items() if v is not None}})
    model.init_image_backbone(spec, tuple(config.get("label_names", ()) or ()))
    return model


def _only_counters(names: tuple[str, ...]) -> bool:
    return all(n.endswith("num_batches_tracked") for n in names)


def build_image_backbone(snapshot_dir: Path, *, weights_file: str = "model.safetensors",
                         input_override: Mapping[str, Any] | None = None, device: str = "cpu") -> Any:
    """Build the native module of a snapshot and load its weights, in eval mode.

    Every tensor must load: missing or unexpected keys raise, except BatchNorm's
    ``num_batches_tracked`` counters (not used in eval, and absent from many checkpoints).
    ``load_report`` on the returned module holds the :class:`~zoo.weights.LoadReport`.

    Raises:
        FileNotFoundError: ``config.json`` or the weights file is absent.
        ArchitectureError: the config names no native architecture, or the weights do not fit.
        WeightsFormatError: the weights are not safetensors.
    """
    snapshot_dir = Path(snapshot_dir)
    model = build_image_model(read_config(snapshot_dir), input_override=input_override)
    weights = snapshot_dir / weights_file
    if not weights.is_file():
        raise FileNotFoundError(f"snapshot {snapshot_dir} has no {weights_file}.")
    report: LoadReport = load_into(model, weights)
    if not (_only_counters(report.missing) and _only_counters(report.unexpected)):
        raise ArchitectureError(
            f"{weights} does not fit {type(model).__name__} of {snapshot_dir / 'config.json'}: "
            f"missing {list(report.missing)[:8]}, unexpected {list(report.unexpected)[:8]}.")
    model.load_report = report
    return model.to(device).eval()
