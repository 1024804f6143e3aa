"""The model of a transfer experiment: a pretrained backbone under ``backbone.``, a new head under ``head.``."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

__all__ = ["TransferModel"]


class TransferModel(nn.Module):
    """``head(backbone.forward_features(batch))``: pooled features from the backbone, logits from the head.

    Parameter names start with ``backbone.`` and ``head.``, as freezing policies expect.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def embed(self, batch: Any) -> Tensor:
        """Pooled features of a batch from ``backbone.preprocess``."""
        return self.backbone.forward_features(batch)

    def forward(self, batch: Any) -> Tensor:
        """Logits ``(B, num_classes)`` for a batch from ``backbone.preprocess``."""
        return self.head(self.embed(batch))
