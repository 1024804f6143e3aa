"""Vision Transformer (Dosovitskiy et al. 2021) in plain torch, in timm's parameter layout.

Keys as timm's ``VisionTransformer`` with a class token and ``global_pool="token"``:
``patch_embed.proj``, ``cls_token``, ``pos_embed`` (class position included),
``blocks.<i>.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}``, ``norm``, ``head``.
Pre-norm blocks, LayerNorm eps 1e-6, exact GELU. ``forward_features`` returns the final-norm
class token.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ArchitectureError
from zoo.models.image import ImageBackboneMixin, ImageInput, groups_by_prefix

__all__ = ["ViTConfig", "VisionTransformer", "VIT_SIZES"]

#: size name -> (width, depth, heads)
VIT_SIZES: dict[str, tuple[int, int, int]] = {
    "tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12), "large": (1024, 24, 16),
}


@dataclass(frozen=True)
class ViTConfig:
    embed_dim: int = 384
    depth: int = 12
    num_heads: int = 6
    patch_size: int = 16
    img_size: int = 224
    mlp_ratio: float = 4.0
    num_classes: int = 1000
    in_chans: int = 3

    def __post_init__(self) -> None:
        if self.embed_dim % self.num_heads:
            raise ArchitectureError(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}.")
        if self.img_size % self.patch_size:
            raise ArchitectureError(f"img_size {self.img_size} is not a multiple of patch_size {self.patch_size}.")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ViTConfig:
        raw = dict(raw)
        if "size" in raw:
            name = raw.pop("size")
            if name not in VIT_SIZES:
                raise ArchitectureError(f"ViT size {name!r} is not one of {sorted(VIT_SIZES)}.")
            raw.update(zip(("embed_dim", "depth", "num_heads"), VIT_SIZES[name]))
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in raw.items() if k in fields})

    def to_dict(self) -> dict[str, Any]:
        return {"architecture": "vit", **asdict(self)}


class PatchEmbed(nn.Module):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.proj = nn.Conv2d(config.in_chans, config.embed_dim, config.patch_size, stride=config.patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, config: ViTConfig):
        super().__init__()
        dim = config.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, config.num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * config.mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(ImageBackboneMixin, nn.Module):
    def __init__(self, config: ViTConfig, input_spec: ImageInput | None = None,
                 class_names: tuple[str, ...] = ()):
        super().__init__()
        self.config = config
        self.patch_embed = PatchEmbed(config)
        num_patches = (config.img_size // config.patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.embed_dim))
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 1, config.embed_dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(config) for _ in range(config.depth)])
        self.norm = nn.LayerNorm(config.embed_dim, eps=1e-6)
        self.head = nn.Linear(config.embed_dim, config.num_classes)
        size = (config.img_size, config.img_size)
        self.init_image_backbone(input_spec or ImageInput(size=size, mean=(0.5,) * 3, std=(0.5,) * 3,
                                                          interpolation="bicubic", crop_pct=0.9), class_names)

    @property
    def embedding_dim(self) -> int:
        return self.config.embed_dim

    def forward_tokens(self, x: Tensor) -> Tensor:
        """Final-norm tokens ``(B, 1 + patches, D)``."""
        x = self.patch_embed(x)
        if x.shape[1] + 1 != self.pos_embed.shape[1]:
            raise ArchitectureError(
                f"input gives {x.shape[1]} patches; this ViT was built for {self.pos_embed.shape[1] - 1} "
                f"({self.config.img_size}px). Resize images to {self.config.img_size}.")
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.norm(self.blocks(x))

    def forward_features(self, batch: Tensor) -> Tensor:
        return self.forward_tokens(batch)[:, 0]

    def forward_head(self, features: Tensor) -> Tensor:
        return self.head(features)

    def group_matcher(self) -> list:
        groups = [("embed", ("cls_token", "pos_embed", "patch_embed."))]
        groups += [(f"blocks.{i}", (f"blocks.{i}.",)) for i in range(len(self.blocks))]
        return groups_by_prefix(self, groups + [("norm", ("norm.",))])

    def classifier_prefix(self) -> str:
        return "head"

    def preprocessing(self) -> dict[str, Any]:
        return {**super().preprocessing(), "pooling": "cls"}
