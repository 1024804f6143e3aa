"""The model a transfer run trains: a pretrained backbone under ``backbone.``, a new head under ``head.``."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor, nn

__all__ = ["TransferModel", "set_max_seq_length", "backbone_is_frozen", "head_state", "trainable_backbone_state",
           "frozen_prefix_layers", "prefix_states", "suffix_logits"]


class TransferModel(nn.Module):
    """``head(backbone(**batch))``: pooled embeddings from the backbone, logits from the head.

    Parameter names start with ``backbone.`` and ``head.``, as freezing policies expect.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def embed(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Pooled embeddings of a tokenized batch (``input_ids``, ``attention_mask``, ...)."""
        return self.backbone(**batch)

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Logits ``(B, num_classes)`` for a tokenized batch."""
        return self.head(self.embed(batch))


def set_max_seq_length(encoder: Any, max_seq_length: int) -> None:
    """Truncate the encoder's inputs to ``max_seq_length`` tokens (a text encoder from zoo.models)."""
    from zoo.errors import ArchitectureError
    from zoo.models.text import _configure_tokenizer

    limit = encoder.model.config.max_position_embeddings
    if not 1 < max_seq_length <= limit:
        raise ArchitectureError(f"max_seq_length {max_seq_length} must be between 2 and {limit}.")
    _configure_tokenizer(encoder.tokenizer, max_seq_length, encoder.model.config.pad_token_id)
    encoder._max_seq_length = int(max_seq_length)


def backbone_is_frozen(model: TransferModel) -> bool:
    return not any(p.requires_grad for p in model.backbone.parameters())


def head_state(model: TransferModel) -> dict[str, Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()}


def trainable_backbone_state(model: TransferModel) -> dict[str, Tensor]:
    """The backbone parameters that training changed (``requires_grad``), by full name."""
    return {f"backbone.{n}": p.detach().cpu().contiguous()
            for n, p in model.backbone.named_parameters() if p.requires_grad}


# --- a frozen prefix, computed once ---------------------------------------------------------


def frozen_prefix_layers(model: TransferModel) -> int:
    """How many leading encoder layers (with the embeddings) are entirely frozen, for encoders
    from :mod:`zoo.models.text`; 0 when the embeddings train or the backbone is another kind."""
    encoder = model.backbone
    bert = getattr(encoder, "model", None)
    layers = getattr(getattr(bert, "encoder", None), "layer", None)
    if bert is None or layers is None or not hasattr(bert, "embeddings") or not hasattr(encoder, "pool"):
        return 0
    if any(p.requires_grad for p in bert.embeddings.parameters()):
        return 0
    k = 0
    for layer in layers:
        if any(p.requires_grad for p in layer.parameters()):
            break
        k += 1
    return k if k < len(layers) else 0


def prefix_states(model: TransferModel, texts: list[str], k: int, *, batch_size: int = 64,
                  device: str | torch.device = "cpu") -> list[Tensor]:
    """Each text's hidden states after the embeddings and the first ``k`` layers, ``(T_i, H)``.

    Computed in eval mode (no dropout: the layers are frozen) and without padding positions.
    """
    from zoo.models.bert import _attention_mask

    import numpy as np

    encoder, bert = model.backbone, model.backbone.model
    out: list[Tensor | None] = [None] * len(texts)
    order = np.argsort([-len(t) for t in texts], kind="stable")
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                idx = order[start:start + batch_size]
                tok = {n: v.to(device) for n, v in encoder.tokenize([texts[i] for i in idx]).items()}
                mask = _attention_mask(tok["attention_mask"])
                h = bert.embeddings(tok["input_ids"], tok["token_type_ids"])
                for layer in bert.encoder.layer[:k]:
                    h = layer(h, mask)
                lengths = tok["attention_mask"].sum(1).tolist()
                for row, i in enumerate(idx):
                    out[i] = h[row, : lengths[row]].detach().clone()
    finally:
        encoder.train(was_training)
    return out  # type: ignore[return-value]


def suffix_logits(model: TransferModel, states: list[Tensor], k: int) -> Tensor:
    """Logits from precomputed prefix states: the remaining layers, pooling, normalization, head."""
    import torch.nn.functional as F
    from torch.nn.utils.rnn import pad_sequence

    from zoo.models.bert import _attention_mask

    encoder, bert = model.backbone, model.backbone.model
    h = pad_sequence(states, batch_first=True)
    lengths = torch.tensor([len(s) for s in states], device=h.device)
    attention = (torch.arange(h.shape[1], device=h.device)[None, :] < lengths[:, None]).long()
    mask = _attention_mask(attention)
    for layer in bert.encoder.layer[k:]:
        h = layer(h, mask)
    pooled = encoder.pool(h, attention)
    if encoder.normalize:
        pooled = F.normalize(pooled, p=2, dim=1)
    return model.head(pooled)
