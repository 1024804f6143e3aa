"""The shape of the BERT encoders inside a model: find them, describe them, rebuild them.

Structured passes change shapes per layer (heads kept, FFN width, number of layers), so a
compressed model no longer matches its ``BertConfig``. :func:`describe` records the real shape;
:func:`reshape` gives a fresh copy of the base model that shape before saved weights are loaded.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from zoo.errors import CompressionPassError
from zoo.models.bert import BertModel

__all__ = ["find_berts", "require_berts", "describe", "reshape", "resized_linear", "slice_linear"]


def find_berts(model: nn.Module) -> list[tuple[str, BertModel]]:
    """``(module name, BertModel)`` for every BERT encoder in ``model`` (outermost only)."""
    found: list[tuple[str, BertModel]] = []
    for name, module in model.named_modules():
        if isinstance(module, BertModel) and not any(name.startswith(p + ".") for p, _ in found if p):
            found.append((name, module))
    return found


def require_berts(model: nn.Module, pass_name: str) -> list[tuple[str, BertModel]]:
    """Like :func:`find_berts`, but raise when there is none.

    Raises:
        CompressionPassError: ``model`` contains no :class:`zoo.models.bert.BertModel`.
    """
    found = find_berts(model)
    if not found:
        raise CompressionPassError(
            f"needs a BERT encoder (zoo.models.bert.BertModel) inside the model, and "
            f"{type(model).__name__} has none; structured passes know BERT's layout only.",
            pass_name=pass_name,
        )
    return found


def describe(model: nn.Module) -> dict[str, dict[str, Any]]:
    """Per encoder (by module name): ``layers``, ``heads`` and ``intermediate`` sizes per layer."""
    out: dict[str, dict[str, Any]] = {}
    for name, bert in find_berts(model):
        layers = list(bert.encoder.layer)
        out[name] = {
            "layers": len(layers),
            "head_dim": layers[0].attention.self.head_dim if layers else bert.config.head_dim,
            "heads": [int(layer.attention.self.heads) for layer in layers],
            "intermediate": [_out_features(layer.intermediate.dense) for layer in layers],
        }
    return out


def _out_features(linear: nn.Module) -> int:
    return int(getattr(linear, "out_features", -1))


def resized_linear(like: nn.Linear, in_features: int, out_features: int) -> nn.Linear:
    """An uninitialized-shape ``nn.Linear`` with ``like``'s dtype, device and bias presence."""
    weight = like.weight
    return nn.Linear(in_features, out_features, bias=like.bias is not None, device=weight.device, dtype=weight.dtype)


def slice_linear(linear: nn.Linear, *, rows: torch.Tensor | None = None, cols: torch.Tensor | None = None) -> nn.Linear:
    """A new ``nn.Linear`` keeping output ``rows`` and input ``cols`` (index tensors) of ``linear``."""
    weight = linear.weight.detach()
    bias = linear.bias.detach() if linear.bias is not None else None
    if rows is not None:
        weight = weight.index_select(0, rows)
        bias = bias.index_select(0, rows) if bias is not None else None
    if cols is not None:
        weight = weight.index_select(1, cols)
    new = resized_linear(linear, weight.shape[1], weight.shape[0])
    with torch.no_grad():
        new.weight.copy_(weight)
        if bias is not None:
            new.bias.copy_(bias)
    new.train(linear.training)
    return new


def reshape(model: nn.Module, structure: dict[str, dict[str, Any]]) -> None:
    """Give the encoders of ``model`` (in place) the shape :func:`describe` recorded.

    Layers beyond ``layers`` are dropped and every resized ``nn.Linear`` is new (its values are
    meaningless until weights are loaded).

    Raises:
        CompressionPassError: an encoder named in ``structure`` is missing, or the saved shape
            is larger than the base model's (a compressed model is never larger).
    """
    berts = dict(find_berts(model))
    for name, shape in structure.items():
        if name not in berts:
            raise CompressionPassError(
                f"the saved model has a BERT encoder at {name!r}, but the base model has "
                f"{sorted(berts) or 'none'}; load it onto the base model it was compressed from."
            )
        bert = berts[name]
        if shape["layers"] > len(bert.encoder.layer):
            raise CompressionPassError(
                f"the saved encoder {name!r} has {shape['layers']} layers, the base model only "
                f"{len(bert.encoder.layer)}; load it onto the base model it was compressed from."
            )
        bert.encoder.layer = nn.ModuleList(list(bert.encoder.layer)[: shape["layers"]])
        _set_layer_count(bert, shape["layers"])
        head_dim = int(shape["head_dim"])
        for layer, heads, inter in zip(bert.encoder.layer, shape["heads"], shape["intermediate"]):
            attn = layer.attention.self
            width = int(heads) * head_dim
            hidden = attn.query.in_features
            for key in ("query", "key", "value"):
                setattr(attn, key, resized_linear(getattr(attn, key), hidden, width))
            attn.heads = int(heads)
            dense = layer.attention.output.dense
            layer.attention.output.dense = resized_linear(dense, width, dense.out_features)
            layer.intermediate.dense = resized_linear(layer.intermediate.dense, hidden, int(inter))
            out = layer.output.dense
            layer.output.dense = resized_linear(out, int(inter), out.out_features)


def _set_layer_count(bert: BertModel, layers: int) -> None:
    """Keep ``bert.config.num_hidden_layers`` truthful after layers were dropped."""
    import dataclasses

    if bert.config.num_hidden_layers != layers:
        bert.config = dataclasses.replace(bert.config, num_hidden_layers=layers)
