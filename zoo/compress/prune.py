"""Magnitude pruning: unstructured (zeros, made permanent) and structured (heads and neurons removed).

Unstructured pruning zeroes the weights of smallest magnitude across every ``nn.Linear``
(globally ranked) with ``torch.nn.utils.prune`` and then makes it permanent with
``prune.remove``: no ``weight_orig``, no mask buffer, no forward pre-hook is left. The tensors
stay dense, so dense kernels run exactly as fast as before and a dense file is exactly as big.

Structured pruning physically removes attention heads (rows of query/key/value and columns of
``attention.output.dense``) or FFN neurons (rows of ``intermediate.dense`` and columns of
``output.dense``) from every :class:`~zoo.models.bert.BertModel` in the model, so the matrices
get smaller and the model gets faster. Importance is data-free and deterministic:

- a head: L1 norm of its query, key and value rows plus its output-projection columns;
- a neuron: L1 norm of its ``intermediate.dense`` row times L1 norm of its ``output.dense`` column.

``scope="layer"`` removes the same fraction from every layer; ``scope="global"`` ranks units of
all layers together after dividing each score by its layer's mean (layers differ in scale), and
always keeps at least one unit per layer.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from zoo.compress.structure import require_berts, slice_linear
from zoo.errors import CompressionPassError

__all__ = [
    "magnitude_prune",
    "prune_heads",
    "prune_ffn",
    "head_importance",
    "neuron_importance",
    "sparsity",
    "has_pruning_leftovers",
]

Scope = Literal["layer", "global"]


# --- unstructured -------------------------------------------------------------------------


def _prunable(model: nn.Module, include_embeddings: bool) -> list[tuple[nn.Module, str]]:
    kinds: tuple[type, ...] = (nn.Linear, nn.Embedding) if include_embeddings else (nn.Linear,)
    return [(m, "weight") for m in model.modules() if isinstance(m, kinds) and m.weight.is_floating_point()]


def magnitude_prune(model: nn.Module, *, sparsity: float, include_embeddings: bool = False,
                    scope: Scope = "global") -> dict[str, Any]:
    """Zero the ``sparsity`` fraction of smallest-magnitude ``nn.Linear`` weights, in place and permanently.

    ``scope="global"`` ranks all targeted weights together (layers end up with different
    sparsities); ``"layer"`` prunes every weight matrix to ``sparsity`` on its own.
    Returns ``{"targets", "zeros", "total", "sparsity"}`` over the targeted weights.

    Raises:
        CompressionPassError: ``sparsity`` is not in [0, 1), a bad ``scope``, or no float ``nn.Linear``.
    """
    from torch.nn.utils import prune

    if not 0.0 <= sparsity < 1.0:
        raise CompressionPassError(f"sparsity must be in [0, 1), got {sparsity}", pass_name="magnitude-prune")
    if scope not in ("global", "layer"):
        raise CompressionPassError(f"scope must be 'global' or 'layer', got {scope!r}", pass_name="magnitude-prune")
    targets = _prunable(model, include_embeddings)
    if not targets:
        raise CompressionPassError("the model has no floating-point nn.Linear to prune", pass_name="magnitude-prune")
    if sparsity > 0:
        if scope == "global":
            prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=float(sparsity))
        else:
            for module, name in targets:
                prune.l1_unstructured(module, name, amount=float(sparsity))
        for module, name in targets:
            prune.remove(module, name)  # weight = weight_orig * mask, as a plain Parameter again
    zeros = sum(int((m.weight == 0).sum()) for m, _ in targets)
    total = sum(m.weight.numel() for m, _ in targets)
    return {"targets": len(targets), "zeros": zeros, "total": total, "sparsity": zeros / total}


def sparsity(model: nn.Module, *, include_embeddings: bool = False) -> float:
    """Fraction of zeros among the weights :func:`magnitude_prune` targets."""
    targets = _prunable(model, include_embeddings)
    total = sum(m.weight.numel() for m, _ in targets)
    return sum(int((m.weight == 0).sum()) for m, _ in targets) / total if total else 0.0


def has_pruning_leftovers(model: nn.Module) -> list[str]:
    """Names of modules still carrying pruning masks, ``*_orig`` parameters or pruning hooks."""
    from torch.nn.utils import prune

    bad = []
    for name, module in model.named_modules():
        hooks = [h for h in module._forward_pre_hooks.values() if isinstance(h, prune.BasePruningMethod)]
        tensors = [n for n, _ in module.named_parameters(recurse=False) if n.endswith("_orig")]
        tensors += [n for n, _ in module.named_buffers(recurse=False) if n.endswith("_mask")]
        if hooks or tensors:
            bad.append(name or type(module).__name__)
    return bad


# --- structured: choosing what to keep ----------------------------------------------------


def head_importance(layer: nn.Module) -> Tensor:
    """Per-head L1 norm of query/key/value rows plus output-projection columns, shape ``(heads,)``."""
    attn = layer.attention.self
    heads, dim = attn.heads, attn.head_dim
    score = sum(getattr(attn, k).weight.detach().float().abs().view(heads, dim, -1).sum((1, 2))
                for k in ("query", "key", "value"))
    out = layer.attention.output.dense.weight.detach().float().abs()  # (hidden, heads * dim)
    return score + out.view(out.shape[0], heads, dim).sum((0, 2))


def neuron_importance(layer: nn.Module) -> Tensor:
    """Per-neuron L1(``intermediate.dense`` row) x L1(``output.dense`` column), shape ``(intermediate,)``."""
    w_in = layer.intermediate.dense.weight.detach().float().abs().sum(1)
    w_out = layer.output.dense.weight.detach().float().abs().sum(0)
    return w_in * w_out


def _n_remove(units: int, fraction: float | None, count: int | None) -> int:
    return int(count) if count is not None else int(round(units * float(fraction or 0.0)))


def _keep_sets(scores: list[Tensor], *, fraction: float | None, count: int | None, scope: Scope,
               pass_name: str) -> list[Tensor]:
    """Indices (ascending) of the units to keep in each layer."""
    if (fraction is None) == (count is None):
        raise CompressionPassError("give exactly one of `fraction` and `count`", pass_name=pass_name)
    if fraction is not None and not 0.0 <= fraction < 1.0:
        raise CompressionPassError(f"fraction must be in [0, 1), got {fraction}", pass_name=pass_name)
    if count is not None and count < 0:
        raise CompressionPassError(f"count must be >= 0, got {count}", pass_name=pass_name)
    if scope == "layer":
        keep = []
        for s in scores:
            drop = _n_remove(len(s), fraction, count)
            if drop >= len(s):
                raise CompressionPassError(
                    f"cannot remove {drop} of {len(s)} units from a layer; at least one must stay", pass_name=pass_name
                )
            order = torch.argsort(s, descending=True, stable=True)
            keep.append(order[: len(s) - drop].sort().values)
        return keep
    if scope != "global":
        raise CompressionPassError(f"scope must be 'layer' or 'global', got {scope!r}", pass_name=pass_name)
    total = sum(len(s) for s in scores)
    drop = _n_remove(total, fraction, count)
    if drop > total - len(scores):
        raise CompressionPassError(
            f"cannot remove {drop} of {total} units: every layer keeps at least one", pass_name=pass_name
        )
    normed = [s / s.mean().clamp_min(1e-12) for s in scores]
    # each layer's best unit is protected; the rest compete globally
    best = [int(torch.argmax(s)) for s in normed]
    flat = [(float(v), li, ui) for li, s in enumerate(normed) for ui, v in enumerate(s.tolist()) if ui != best[li]]
    flat.sort(key=lambda t: (t[0], t[1], t[2]))
    removed = {(li, ui) for _, li, ui in flat[:drop]}
    return [torch.tensor([u for u in range(len(s)) if (li, u) not in removed], dtype=torch.long)
            for li, s in enumerate(scores)]


_ATTENTION = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense")
_FFN = ("intermediate.dense", "output.dense")


def _check_linear(layer: nn.Module, names: tuple[str, ...], pass_name: str) -> None:
    for name in names:
        if type(layer.get_submodule(name)) is not nn.Linear:
            raise CompressionPassError(
                "needs plain nn.Linear layers; this model's linears were already replaced (quantized?). "
                "Run structured pruning before quantization.",
                pass_name=pass_name,
            )


# --- structured: removing -----------------------------------------------------------------


def _rows_of_heads(heads: Tensor, dim: int) -> Tensor:
    return (heads[:, None] * dim + torch.arange(dim)[None, :]).reshape(-1)


def prune_heads(model: nn.Module, *, fraction: float | None = None, count: int | None = None,
                scope: Scope = "layer") -> dict[str, Any]:
    """Remove the least important attention heads from every BERT encoder in ``model``, in place.

    ``fraction`` (of heads) or ``count`` (heads per layer with ``scope="layer"``, in total with
    ``scope="global"``). Returns ``{"heads_before", "heads_after", "per_layer"}``.

    Raises:
        CompressionPassError: no BERT encoder, linears already quantized, or bad fraction/count.
    """
    before = after = 0
    per_layer: list[int] = []
    for _, bert in require_berts(model, "prune-heads"):
        layers = list(bert.encoder.layer)
        for layer in layers:
            _check_linear(layer, _ATTENTION, "prune-heads")
        keeps = _keep_sets([head_importance(layer) for layer in layers], fraction=fraction, count=count, scope=scope,
                           pass_name="prune-heads")
        for layer, keep in zip(layers, keeps):
            attn = layer.attention.self
            before += attn.heads
            rows = _rows_of_heads(keep, attn.head_dim)
            for key in ("query", "key", "value"):
                setattr(attn, key, slice_linear(getattr(attn, key), rows=rows))
            layer.attention.output.dense = slice_linear(layer.attention.output.dense, cols=rows)
            attn.heads = len(keep)
            after += attn.heads
            per_layer.append(attn.heads)
    return {"heads_before": before, "heads_after": after, "per_layer": per_layer}


def prune_ffn(model: nn.Module, *, fraction: float | None = None, count: int | None = None,
              scope: Scope = "layer") -> dict[str, Any]:
    """Remove the least important FFN neurons from every BERT encoder in ``model``, in place.

    Returns ``{"neurons_before", "neurons_after", "per_layer"}``.

    Raises:
        CompressionPassError: no BERT encoder, linears already quantized, or bad fraction/count.
    """
    before = after = 0
    per_layer: list[int] = []
    for _, bert in require_berts(model, "prune-ffn"):
        layers = list(bert.encoder.layer)
        for layer in layers:
            _check_linear(layer, _FFN, "prune-ffn")
        keeps = _keep_sets([neuron_importance(layer) for layer in layers], fraction=fraction, count=count, scope=scope,
                           pass_name="prune-ffn")
        for layer, keep in zip(layers, keeps):
            before += layer.intermediate.dense.out_features
            layer.intermediate.dense = slice_linear(layer.intermediate.dense, rows=keep)
            layer.output.dense = slice_linear(layer.output.dense, cols=keep)
            after += len(keep)
            per_layer.append(len(keep))
    return {"neurons_before": before, "neurons_after": after, "per_layer": per_layer}
