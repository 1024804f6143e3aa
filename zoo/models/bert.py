"""A BERT-family encoder in plain torch, parameter-compatible with Hugging Face ``BertModel``.

Parameter names equal the keys of a Hugging Face ``BertModel`` state dict
(``embeddings.word_embeddings.weight``, ``encoder.layer.0.attention.self.query.weight``, ...),
so a Hub ``model.safetensors`` loads directly with :func:`zoo.weights.load_into`;
:func:`hf_key_map` also accepts checkpoints saved from task models (keys under ``bert.``).
Attention runs through :func:`torch.nn.functional.scaled_dot_product_attention`.

:meth:`BertModel.packed_hidden` runs a batch *packed without padding*: the tokens of all
sequences are concatenated into one ``(N, H)`` matrix, so the linear layers (about 90% of the
time on CPU) compute no padding token, and attention runs once per run of equal-length
sequences (with the batch sorted by length, a few runs per batch), without a mask.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ArchitectureError

__all__ = ["BertConfig", "BertModel", "Packing", "hf_key_map", "parameter_shapes"]

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "gelu": F.gelu,  # exact (erf) GELU, as Hugging Face's "gelu"
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}
_REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")


@dataclass(frozen=True)
class BertConfig:
    """Hyper-parameters of a BERT encoder (names as in a Hugging Face ``config.json``)."""

    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    pad_token_id: int = 0
    initializer_range: float = 0.02

    def __post_init__(self) -> None:
        if self.hidden_act not in _ACTIVATIONS:
            raise ArchitectureError(
                f"hidden_act {self.hidden_act!r} is not supported; use one of {sorted(_ACTIVATIONS)}."
            )
        if self.hidden_size % self.num_attention_heads:
            raise ArchitectureError(
                f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads {self.num_attention_heads}."
            )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_hf_config(cls, config: Mapping[str, Any]) -> "BertConfig":
        """Build from a Hugging Face ``config.json`` dict; unknown keys are ignored.

        Raises:
            ArchitectureError: a required key is absent, the model type is not BERT, or the
                position embeddings are not absolute.
        """
        model_type = config.get("model_type", "bert")
        if model_type != "bert":
            raise ArchitectureError(f"model_type {model_type!r} is not a BERT checkpoint; this encoder reads 'bert'.")
        position = config.get("position_embedding_type", "absolute")
        if position != "absolute":
            raise ArchitectureError(
                f"position_embedding_type {position!r} is not supported; only 'absolute' is implemented."
            )
        absent = [key for key in _REQUIRED if key not in config]
        if absent:
            raise ArchitectureError(f"BERT config lacks required keys: {', '.join(absent)}.")
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in config.items() if k in names and v is not None}
        return cls(**values)


def hf_key_map(key: str) -> str | None:
    """Map a Hugging Face BERT checkpoint key to a :class:`BertModel` parameter name.

    Strips a task model's ``bert.`` prefix and drops the ``embeddings.position_ids`` buffer
    that older checkpoints carry (positions are computed, not stored), and the ``head.*``
    tensors of a transfer head stored beside the encoder (``zoo export --format hub``).
    """
    if key.startswith("bert."):
        key = key[len("bert.") :]
    if key in ("embeddings.position_ids", "embeddings.token_type_ids") or key.startswith("head."):
        return None
    return key


# --- building blocks (attribute names follow Hugging Face so parameter names match) -------


class _Embeddings(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor) -> Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))

    def packed(self, input_ids: Tensor, token_type_ids: Tensor, positions: Tensor) -> Tensor:
        """``(N,)`` packed token ids -> ``(N, H)``; ``positions`` restart at 0 for each sequence."""
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))


class _SelfAttention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.heads, self.head_dim = cfg.num_attention_heads, cfg.head_dim
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.dropout_p = cfg.attention_probs_dropout_prob

    def _split(self, x: Tensor) -> Tensor:  # (B, T, H) -> (B, heads, T, head_dim)
        return x.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        p = self.dropout_p if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return out.transpose(1, 2).flatten(2)

    def packed(self, x: Tensor, packing: "Packing") -> Tensor:
        """Self-attention over packed tokens ``(N, H)``, each sequence attending to itself only."""
        query, key, value = self.query(x), self.key(x), self.value(x)
        p = self.dropout_p if self.training else 0.0
        outs = []
        for offset, count, length in packing.runs:
            q, k, v = (t[offset : offset + count * length].view(count, length, self.heads, self.head_dim).transpose(1, 2)
                       for t in (query, key, value))  # each (count, heads, length, head_dim)
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
            outs.append(out.transpose(1, 2).reshape(count * length, -1))
        return outs[0] if len(outs) == 1 else torch.cat(outs)


class _AddNorm(nn.Module):
    """dense -> dropout -> residual add -> LayerNorm (``attention.output`` and ``output``)."""

    def __init__(self, cfg: BertConfig, in_features: int):
        super().__init__()
        self.dense = nn.Linear(in_features, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class _Attention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.self = _SelfAttention(cfg)
        self.output = _AddNorm(cfg, cfg.hidden_size)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return self.output(self.self(x, mask), x)

    def packed(self, x: Tensor, packing: "Packing") -> Tensor:
        return self.output(self.self.packed(x, packing), x)


class _Intermediate(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.act = _ACTIVATIONS[cfg.hidden_act]

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.dense(x))


class _Layer(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.attention = _Attention(cfg)
        self.intermediate = _Intermediate(cfg)
        self.output = _AddNorm(cfg, cfg.intermediate_size)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = self.attention(x, mask)
        return self.output(self.intermediate(x), x)

    def packed(self, x: Tensor, packing: "Packing") -> Tensor:
        x = self.attention.packed(x, packing)
        return self.output(self.intermediate(x), x)


class _Encoder(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(_Layer(cfg) for _ in range(cfg.num_hidden_layers))


class _Pooler(nn.Module):
    """BERT's pooler: tanh(dense(first token)). Used by NSP/classification checkpoints."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, hidden: Tensor) -> Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))


# --- the model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Packing:
    """How sequences of ``lengths`` tokens lie end to end in a packed ``(N, ...)`` tensor.

    ``runs`` are ``(token offset, sequences, length)`` for each stretch of consecutive
    sequences of one length; ``positions`` (``(N,)``, int64) restart at 0 for each sequence.
    """

    lengths: tuple[int, ...]
    runs: tuple[tuple[int, int, int], ...]
    positions: Tensor

    @classmethod
    def of(cls, lengths: Sequence[int], device: str | torch.device | None = None) -> "Packing":
        """The packing of ``lengths`` (each >= 1), in the given order."""
        lengths = tuple(int(n) for n in lengths)
        if not lengths or min(lengths) < 1:
            raise ValueError(f"a packing needs at least one sequence and no empty sequence; got lengths {lengths}")
        runs: list[tuple[int, int, int]] = []
        offset = 0
        for n in lengths:
            if runs and runs[-1][2] == n:
                start, count, _ = runs[-1]
                runs[-1] = (start, count + 1, n)
            else:
                runs.append((offset, 1, n))
            offset += n
        positions = torch.cat([torch.arange(n).repeat(count) for _, count, n in runs])
        return cls(lengths, tuple(runs), positions.to(device) if device is not None else positions)

    @property
    def tokens(self) -> int:
        return sum(self.lengths)

    def segments(self, packed: Tensor) -> list[Tensor]:
        """``(N, ...)`` -> one ``(count, length, ...)`` view per run."""
        return [packed[o : o + c * n].unflatten(0, (c, n)) for o, c, n in self.runs]


def _attention_mask(attention_mask: Tensor | None) -> Tensor | None:
    """(B, T) 1/0 mask -> boolean (B, 1, 1, T) broadcast over heads and queries; None if no padding.

    A traced, exported or compiled graph always keeps the mask: the batch it was made from says
    nothing about the padding of later batches.
    """
    if attention_mask is None:
        return None
    graph = torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling()
    if not graph and bool(attention_mask.all()):
        return None
    return attention_mask.bool()[:, None, None, :]


def parameter_shapes(config: BertConfig) -> dict[str, tuple[int, ...]]:
    """The shape of every entry of ``BertModel(config).state_dict()``, computed without building it.

    Checking a config against a weights file this way allocates nothing (building the model on
    the meta device would run its initializers there, which imports TorchDynamo: about 2 s).
    ``tests/test_bert.py`` checks it against a built model.
    """
    h, f = config.hidden_size, config.intermediate_size
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (config.vocab_size, h),
        "embeddings.position_embeddings.weight": (config.max_position_embeddings, h),
        "embeddings.token_type_embeddings.weight": (config.type_vocab_size, h),
        "embeddings.LayerNorm.weight": (h,), "embeddings.LayerNorm.bias": (h,),
    }
    per_layer = {"attention.self.query": (h, h), "attention.self.key": (h, h), "attention.self.value": (h, h),
                 "attention.output.dense": (h, h), "intermediate.dense": (f, h), "output.dense": (h, f)}
    for i in range(config.num_hidden_layers):
        for name, (rows, cols) in per_layer.items():
            shapes[f"encoder.layer.{i}.{name}.weight"] = (rows, cols)
            shapes[f"encoder.layer.{i}.{name}.bias"] = (rows,)
            if name in ("attention.output.dense", "output.dense"):
                norm = name.replace("dense", "LayerNorm")
                shapes[f"encoder.layer.{i}.{norm}.weight"] = shapes[f"encoder.layer.{i}.{norm}.bias"] = (h,)
    return shapes


class BertModel(nn.Module):
    """The BERT encoder. ``forward`` returns the last hidden states ``(B, T, hidden_size)``.

    ``add_pooling_layer=True`` adds ``pooler.dense`` (for checkpoints whose heads use it);
    sentence encoders do not need it.
    """

    def __init__(self, config: BertConfig, *, add_pooling_layer: bool = False):
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)
        self.pooler = _Pooler(config) if add_pooling_layer else None
        self.apply(self._init_weights)

    def group_matcher(self) -> list[Any]:
        """The embeddings, then each encoder layer (``zoo.contracts.LayerGroup``; names relative to this model)."""
        from zoo.contracts import LayerGroup

        groups = [LayerGroup("embeddings", tuple(f"embeddings.{n}" for n, _ in self.embeddings.named_parameters()))]
        groups += [LayerGroup(f"layer{i}", tuple(f"encoder.layer.{i}.{n}" for n, _ in layer.named_parameters()))
                   for i, layer in enumerate(self.encoder.layer)]
        return groups

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
        if isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    def hidden_states(
        self, input_ids: Tensor, attention_mask: Tensor | None = None, token_type_ids: Tensor | None = None
    ) -> tuple[Tensor, ...]:
        """All hidden states: the embedding output, then each layer's output (``L + 1`` tensors)."""
        self._check_length(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        mask = _attention_mask(attention_mask)
        states = [self.embeddings(input_ids, token_type_ids)]
        for layer in self.encoder.layer:
            states.append(layer(states[-1], mask))
        return tuple(states)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None, token_type_ids: Tensor | None = None
    ) -> Tensor:
        """Last hidden states ``(B, T, H)``. ``attention_mask`` is 1 for tokens, 0 for padding."""
        return self.hidden_states(input_ids, attention_mask, token_type_ids)[-1]

    def packed_hidden(self, input_ids: Tensor, packing: Packing, token_type_ids: Tensor | None = None) -> Tensor:
        """Last hidden states ``(N, H)`` of sequences packed end to end in ``input_ids`` ``(N,)``.

        Equal, up to float rounding, to :meth:`forward` on the same sequences padded and masked,
        without computing a padding token. ``packing`` says where each sequence lies.
        """
        if input_ids.dim() != 1 or input_ids.shape[0] != packing.tokens:
            raise ValueError(f"packed input_ids must be 1-D with {packing.tokens} tokens; got shape "
                             f"{tuple(input_ids.shape)}.")
        if max(packing.lengths) > self.config.max_position_embeddings:
            raise ValueError(f"sequence length {max(packing.lengths)} exceeds max_position_embeddings "
                             f"{self.config.max_position_embeddings}; truncate the input.")
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings.packed(input_ids, token_type_ids, packing.positions.to(input_ids.device))
        for layer in self.encoder.layer:
            x = layer.packed(x, packing)
        return x

    def _check_length(self, input_ids: Tensor) -> None:
        if input_ids.shape[-1] > self.config.max_position_embeddings:
            raise ValueError(
                f"sequence length {input_ids.shape[-1]} exceeds max_position_embeddings "
                f"{self.config.max_position_embeddings}; truncate the input."
            )

    def extra_repr(self) -> str:
        c = self.config
        return f"layers={c.num_hidden_layers}, hidden={c.hidden_size}, heads={c.num_attention_heads}"

