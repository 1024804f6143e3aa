"""What every image backbone shares: its input spec, preprocessing (Pillow + torch) and the
members of :class:`zoo.contracts.Backbone`.

Preprocessing follows timm's evaluation transform: resize the shorter side to
``floor(size / crop_pct)`` with the declared interpolation, center-crop ``size``, scale to
``[0, 1]``, normalize with ``mean``/``std``. Grey images become three channels (and colour
images one) to match ``channels``. torchvision is not used: the PyPI torchvision wheel
(0.28.0) links against CUDA torch and does not import beside the CPU torch this project
installs, so the transforms are written with Pillow and torch here.

Images may be given as Pillow images, file paths (decoded when their batch is built, so a
dataset of paths is decoded lazily, batch by batch), ``uint8`` arrays ``(H, W)`` /
``(H, W, C)`` (or a stacked ``(N, H, W[, C])`` batch), float arrays in ``[0, 1]``, or an
already preprocessed float tensor ``(N, C, H, W)`` (used as is).
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

from zoo.contracts import LayerGroup
from zoo.errors import ArchitectureError

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage
    from torch import nn

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageInput",
    "ImageAugment",
    "load_image",
    "transform_image",
    "images_to_batch",
    "ImageBackboneMixin",
    "groups_by_prefix",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos")


@dataclass(frozen=True)
class ImageInput:
    """The input an image backbone expects (a registry entry's ``input`` table, or ``config.json``).

    ``size``: ``(height, width)`` after cropping; ``crop_pct``: the center crop keeps this
    fraction of the resized image (1.0: resize straight to ``size``); ``channels``: 3 (RGB) or 1.
    """

    size: tuple[int, int] = (224, 224)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    interpolation: str = "bilinear"
    crop_pct: float = 0.875
    channels: int = 3

    def __post_init__(self) -> None:
        if self.interpolation not in _INTERPOLATIONS:
            raise ArchitectureError(f"interpolation {self.interpolation!r} is not one of {_INTERPOLATIONS}.")
        if not 0 < self.crop_pct <= 1:
            raise ArchitectureError(f"crop_pct {self.crop_pct} must be in (0, 1].")
        if self.channels not in (1, 3) or len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ArchitectureError(
                f"channels {self.channels} needs that many mean and std values, got {self.mean} and {self.std}.")
        if len(self.size) != 2 or min(self.size) < 1:
            raise ArchitectureError(f"size {self.size} must be (height, width).")

    @property
    def resize_to(self) -> int:
        """Length of the shorter side before the center crop (timm: ``floor(size / crop_pct)``)."""
        return int(math.floor(max(self.size) / self.crop_pct))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ImageInput:
        """Read the keys it knows (``image_size`` is accepted for ``size``; a single int is square)."""
        size = raw.get("size", raw.get("image_size", (224, 224)))
        if isinstance(size, int):
            size = (size, size)
        size = tuple(int(s) for s in size)[-2:]
        kw: dict[str, Any] = {"size": size}
        for key in ("mean", "std"):
            if key in raw and raw[key] is not None:
                kw[key] = tuple(float(v) for v in raw[key])
        for key, cast in (("interpolation", str), ("crop_pct", float), ("channels", int)):
            if key in raw and raw[key] is not None:
                kw[key] = cast(raw[key])
        return cls(**kw)


@dataclass(frozen=True)
class ImageAugment:
    """Seeded training augmentation: random resized crop (area ``scale``, aspect ``ratio``) and
    horizontal flip with probability ``hflip``. Applied instead of resize + center crop."""

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: float = 0.5
    random_resized_crop: bool = True

    def crop_box(self, width: int, height: int, rng: random.Random) -> tuple[int, int, int, int]:
        """torchvision's RandomResizedCrop.get_params, on ``rng``: ``(left, top, right, bottom)``."""
        area = width * height
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top, left = rng.randint(0, height - h), rng.randint(0, width - w)
                return left, top, left + w, top + h
        in_ratio = width / height  # fallback: the central crop with the ratio clamped
        if in_ratio < self.ratio[0]:
            w, h = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            h, w = height, int(round(height * self.ratio[1]))
        else:
            w, h = width, height
        left, top = (width - w) // 2, (height - h) // 2
        return left, top, left + w, top + h


def _resample(name: str) -> Any:
    from PIL import Image

    return getattr(Image.Resampling, name.upper())


def load_image(item: Any) -> PILImage.Image:
    """A Pillow image from a path, a Pillow image, or a ``uint8``/float ``[0, 1]`` array."""
    from PIL import Image

    if isinstance(item, Image.Image):
        return item
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        if not path.is_file():
            raise FileNotFoundError(f"image file not found: {path}")
        with Image.open(path) as img:
            img.load()
            return img
    arr = np.asarray(item)
    if arr.dtype != np.uint8:
        if arr.dtype.kind != "f" or arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ArchitectureError(
                f"an image array must be uint8, or float in [0, 1]; got {arr.dtype} with range "
                f"[{arr.min() if arr.size else 0}, {arr.max() if arr.size else 0}]. Scale it first.")
        arr = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ArchitectureError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4); got shape {arr.shape}.")
    return Image.fromarray(arr)


def transform_image(image: PILImage.Image, spec: ImageInput, *, augment: ImageAugment | None = None,
                    rng: random.Random | None = None) -> Tensor:
    """One image -> a normalized float tensor ``(channels, H, W)``."""
    from PIL import Image

    img = image.convert("RGB" if spec.channels == 3 else "L")
    height, width = spec.size
    resample = _resample(spec.interpolation)
    if augment is not None:
        rng = rng or random.Random(0)
        box = augment.crop_box(img.width, img.height, rng) if augment.random_resized_crop else None
        img = img.resize((width, height), resample, box=box)
        if rng.random() < augment.hflip:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    else:
        short = spec.resize_to
        if spec.crop_pct == 1.0 and img.width == img.height:
            img = img.resize((width, height), resample) if img.size != (width, height) else img
        else:
            if img.width <= img.height:  # torchvision's Resize(int): the longer side is truncated
                new = (short, int(short * img.height / img.width))
            else:
                new = (int(short * img.width / img.height), short)
            new = (max(new[0], width), max(new[1], height))
            if img.size != new:
                img = img.resize(new, resample)
            left = int(round((img.width - width) / 2.0))
            top = int(round((img.height - height) / 2.0))
            img = img.crop((left, top, left + width, top + height))
    arr = np.asarray(img, dtype=np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[:, :, None]
    tensor = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(-1, 1, 1)
    return (tensor - mean) / std


def _items(inputs: Any) -> list[Any]:
    """Split ``inputs`` into single images. A 3-d array whose last axis is 3 or 4 is one colour
    image; any other 3-d array is a batch of grey images, a 4-d array a batch of colour ones."""
    from PIL import Image

    if isinstance(inputs, np.ndarray):
        single = inputs.ndim == 2 or (inputs.ndim == 3 and inputs.shape[-1] in (3, 4))
        return [inputs] if single else list(inputs)
    if isinstance(inputs, (str, os.PathLike, Image.Image)) or not isinstance(inputs, Iterable):
        return [inputs]
    return list(inputs)


def images_to_batch(inputs: Any, spec: ImageInput, *, augment: ImageAugment | None = None,
                    seed: int | None = None) -> Tensor:
    """Preprocess ``inputs`` (see the module docstring) into a float batch ``(N, C, H, W)``.

    With ``augment``, each image gets a crop and flip drawn from ``random.Random(seed)``.
    """
    if isinstance(inputs, Tensor):
        if inputs.ndim != 4 or inputs.shape[1] != spec.channels:
            raise ArchitectureError(
                f"a tensor input must be a preprocessed batch (N, {spec.channels}, H, W); got {tuple(inputs.shape)}.")
        return inputs.float()
    items = _items(inputs)
    if not items:
        raise ArchitectureError("no images to preprocess.")
    rng = random.Random(seed) if augment is not None else None
    return torch.stack([transform_image(load_image(x), spec, augment=augment, rng=rng) for x in items])


def groups_by_prefix(module: nn.Module, groups: list[tuple[str, tuple[str, ...]]]) -> list[LayerGroup]:
    """:class:`LayerGroup` s from ``(name, parameter-name prefixes)`` pairs, in ``named_parameters`` order."""
    out = []
    names = [n for n, _ in module.named_parameters()]
    for group, prefixes in groups:
        params = tuple(n for n in names if n.startswith(prefixes))
        if not params:
            raise ArchitectureError(f"layer group {group!r} of {type(module).__name__} matches no parameter.")
        out.append(LayerGroup(group, params))
    return out


class ImageBackboneMixin:
    """The :class:`zoo.contracts.Backbone` members shared by image architectures.

    A subclass (also an ``nn.Module``) defines ``forward_features(batch) -> (B, D)``,
    ``forward_head(features) -> logits``, ``embedding_dim``, ``group_matcher()``,
    ``classifier_prefix()`` and a ``config`` with ``to_dict()``; it calls
    :meth:`init_image_backbone` at the end of ``__init__``.
    """

    modality = "image"

    def init_image_backbone(self, input_spec: ImageInput, class_names: Sequence[str] = ()) -> None:
        self.input_spec = input_spec
        self.class_names = tuple(class_names)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device  # type: ignore[attr-defined]

    def preprocess(self, inputs: Any) -> Tensor:
        """Images (see :mod:`zoo.models.image`) -> a normalized batch on the model's device."""
        return images_to_batch(inputs, self.input_spec).to(self.device)

    def preprocessing(self) -> dict[str, Any]:
        return {"modality": "image", "input": self.input_spec.to_dict(), "pooling": "avg",
                "architecture": self.config.to_dict()}  # type: ignore[attr-defined]

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the pretrained classifier."""
        return self.forward_head(self.forward_features(x))  # type: ignore[attr-defined]

    @torch.no_grad()
    def predict_logits(self, inputs: Any) -> Tensor:
        """Pretrained-classifier logits ``(N, num_classes)`` for raw images, in eval mode."""
        was_training = self.training  # type: ignore[attr-defined]
        self.eval()  # type: ignore[attr-defined]
        try:
            return self(self.preprocess(inputs))  # type: ignore[operator]
        finally:
            self.train(was_training)  # type: ignore[attr-defined]

    def top_k(self, inputs: Any, k: int = 5) -> list[list[tuple[str, float]]]:
        """For each image, the ``k`` most probable pretrained classes as ``(name, probability)``."""
        probs = self.predict_logits(inputs).softmax(dim=-1)
        values, indices = probs.topk(k, dim=-1)
        names = self.class_names
        return [[(names[i] if i < len(names) else str(i), float(v)) for v, i in zip(vs.tolist(), ix.tolist())]
                for vs, ix in zip(values, indices)]
