"""The ``template-cosine`` head module (imports torch: only imported when a head is built)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CosineHead"]


class CosineHead(nn.Module):
    """Scaled cosine similarity between the features and one learned vector per class."""

    def __init__(self, in_features: int, num_classes: int, scale: float):
        super().__init__()
        self.scale = scale
        self.weight = nn.Parameter(torch.randn(num_classes, in_features) / in_features**0.5)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        cos = nn.functional.normalize(features, dim=-1) @ nn.functional.normalize(self.weight, dim=-1).T
        return self.scale * cos
