"""Model-level adaptation through normalization layers: AdaBN and TENT.

* :func:`adabn` (Li et al., 2016): re-estimate every BatchNorm layer's running mean and variance
  on unlabeled target batches (a cumulative average over the whole target split), weights untouched.
* :func:`tent` (Wang et al., ICLR 2021): minimize the entropy of the model's predictions on
  unlabeled target batches, updating only the normalization layers' affine parameters (BatchNorm,
  LayerNorm, GroupNorm); BatchNorm layers normalize with batch statistics while adapting.

Both change ``model`` in place; call them on a copy to keep the source model.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
from torch import nn

__all__ = ["batchnorm_layers", "norm_layers", "adabn", "tent"]

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """Every BatchNorm layer of ``model`` (tracking running statistics), in module order."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


def norm_layers(model: nn.Module) -> list[nn.Module]:
    """Every normalization layer (BatchNorm, LayerNorm, GroupNorm) with affine parameters."""
    return [m for m in model.modules() if isinstance(m, _NORMS) and getattr(m, "weight", None) is not None]


@torch.no_grad()
def adabn(model: nn.Module, batches: Iterable[Any], forward: Callable[[Any], Any]) -> int:
    """Replace BatchNorm running statistics by those of the target batches; returns examples seen.

    ``forward(batch)`` runs the part of ``model`` whose normalization layers should adapt (for a
    probe on frozen features: the backbone's ``forward_features``). Other layers stay in eval mode.
    """
    layers = batchnorm_layers(model)
    momenta = [bn.momentum for bn in layers]
    was_training = model.training
    model.eval()
    for bn in layers:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average: every target example counts equally
        bn.train()
    seen = 0
    try:
        for batch in batches:
            forward(batch)
            seen += _batch_len(batch)
    finally:
        for bn, momentum in zip(layers, momenta):
            bn.momentum = momentum
        model.train(was_training)
        model.eval()
    return seen


def tent(model: nn.Module, batches: Callable[[], Iterable[Any]], logits: Callable[[Any], torch.Tensor], *,
         steps: int = 1, lr: float = 1e-3, seed: int = 0) -> list[float]:
    """Entropy minimization on the normalization layers' affine parameters; returns each step's mean loss.

    ``batches()`` yields the unlabeled target batches (called once per pass); ``logits(batch)``
    runs the whole classifier. Only the affine parameters of :func:`norm_layers` are optimized
    (Adam, ``lr``); every other parameter keeps its value and its ``requires_grad`` flag.
    """
    torch.manual_seed(seed)
    layers = norm_layers(model)
    params = [p for m in layers for p in (m.weight, m.bias) if p is not None]
    flags = {id(p): p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(params, lr=lr)
    model.eval()
    for m in layers:
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train()  # TENT normalizes with the target batch's statistics
    losses: list[float] = []
    try:
        for _ in range(steps):
            total, count = 0.0, 0
            for batch in batches():
                out = logits(batch)
                loss = -(out.softmax(-1) * out.log_softmax(-1)).sum(-1).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * out.shape[0]
                count += out.shape[0]
            losses.append(total / max(count, 1))
    finally:
        for p in model.parameters():
            p.requires_grad_(flags.get(id(p), True))
        model.eval()
    return losses


def _batch_len(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0])
    if isinstance(batch, dict):
        return int(next(iter(batch.values())).shape[0])
    return len(batch)
