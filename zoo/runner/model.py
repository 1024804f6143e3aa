"""The model a transfer run trains: a pretrained backbone under ``backbone.``, a new head under ``head.``.

Everything here talks to the backbone through :class:`zoo.contracts.Backbone` only
(``preprocess``, ``forward_features``, ``group_matcher``), plus one optional capability: a
backbone with ``prefix_states(inputs, k, *, batch_size)`` and ``features_from_prefix(states, k)``
lets fine-tuning compute its frozen first ``k`` groups once per input.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..contracts import backbone_groups
from ..models.transfer import TransferModel

__all__ = ["TransferModel", "backbone_groups", "set_frozen_norms_eval", "head_state", "frozen_prefix_layers",
           "prefix_states", "suffix_logits"]


def set_frozen_norms_eval(model: nn.Module) -> int:
    """Put every normalization layer whose parameters are all frozen in eval mode; return how many.

    Call after ``model.train()``: frozen batch-norm statistics then stay as they were (as
    Lightning's ``BaseFinetuning`` does). Layer norms behave the same in both modes.
    """
    norm_types: tuple[type, ...] = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
    count = 0
    for module in model.modules():
        params = list(module.parameters(recurse=False))
        if isinstance(module, norm_types) and params and not any(p.requires_grad for p in params):
            module.eval()
            count += 1
    return count


def head_state(model: TransferModel) -> dict[str, Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()}


# --- a frozen prefix, computed once ---------------------------------------------------------


def frozen_prefix_layers(model: TransferModel) -> int:
    """How many groups after the first (stem/embeddings) group are frozen together with it, when
    the backbone can compute a frozen prefix once (``prefix_states``); 0 otherwise or when nothing
    after the prefix would train."""
    backbone = model.backbone
    if not callable(getattr(backbone, "prefix_states", None)) or not callable(getattr(backbone, "group_matcher", None)):
        return 0
    params = dict(model.named_parameters())
    groups = backbone_groups(model)
    frozen = [not any(params[n].requires_grad for n in names) for _, names in groups]
    if not frozen or not frozen[0]:
        return 0
    k = 0
    for flag in frozen[1:]:
        if not flag:
            break
        k += 1
    return k if k < len(groups) - 1 else 0


def prefix_states(model: TransferModel, inputs: list[Any], k: int, *, batch_size: int = 64) -> list[Tensor]:
    """Each input's states after the frozen stem and first ``k`` groups (see the module doc)."""
    return model.backbone.prefix_states(inputs, k, batch_size=batch_size)


def suffix_logits(model: TransferModel, states: list[Tensor], k: int) -> Tensor:
    """Logits from precomputed prefix states: the remaining groups, pooling, the head."""
    return model.head(model.backbone.features_from_prefix(states, k))
