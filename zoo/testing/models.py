"""Small real reference models the conformance checks run components on.

Both follow the transfer layout every freezing policy expects: the backbone under
``backbone.`` and the task head under ``head.``.

* :func:`tiny_bert` names its parameters like Hugging Face BERT
  (``backbone.embeddings.*``, ``backbone.encoder.layer.N.*``, ``backbone.pooler.*``).
* :func:`tiny_torch_encoder` wraps ``torch.nn.TransformerEncoder``
  (``backbone.embed.*``, ``backbone.encoder.layers.N.*``, ``backbone.norm.*``).
* :func:`tiny_zoo_bert` is zoo's own BERT encoder (:mod:`zoo.models.bert`, the class structured
  compression passes recognise) with a first-token linear head: the compression reference.
* :func:`tiny_mlp` is a plain feed-forward network.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.contracts import LayerGroup

__all__ = ["TransferModel", "tiny_bert", "tiny_torch_encoder", "tiny_zoo_bert", "tiny_mlp", "token_batch",
           "tiny_resnet", "image_batch"]

VOCAB = 32


class TransferModel(nn.Module):
    """``head(backbone(inputs))``: the shape of a model in a transfer experiment."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(inputs))


def _groups(model: nn.Module, stem: str, layers: str) -> list[LayerGroup]:
    """The stem, then each layer of ``model.<layers>`` (a ``zoo.contracts.Backbone`` group list)."""
    names = [n for n, _ in model.named_parameters()]
    out = [LayerGroup(stem, tuple(n for n in names if n.startswith(stem + ".")))]
    count = len(model.get_submodule(layers))
    out += [LayerGroup(f"layer{i}", tuple(n for n in names if n.startswith(f"{layers}.{i}."))) for i in range(count)]
    return out


class _BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.attention = nn.ModuleDict(
            {"self": nn.ModuleDict({k: nn.Linear(hidden, hidden) for k in ("query", "key", "value")}),
             "output": nn.ModuleDict({"dense": nn.Linear(hidden, hidden), "LayerNorm": nn.LayerNorm(hidden)})}
        )
        self.intermediate = nn.ModuleDict({"dense": nn.Linear(hidden, 2 * hidden)})
        self.output = nn.ModuleDict({"dense": nn.Linear(2 * hidden, hidden), "LayerNorm": nn.LayerNorm(hidden)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        sa = self.attention["self"]

        def split(t_: torch.Tensor) -> torch.Tensor:
            return t_.view(b, t, self.heads, h // self.heads).transpose(1, 2)

        q, k, v = split(sa["query"](x)), split(sa["key"](x)), split(sa["value"](x))
        ctx = nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, h)
        out = self.attention["output"]
        x = out["LayerNorm"](x + out["dense"](ctx))
        ff = self.output["dense"](nn.functional.gelu(self.intermediate["dense"](x)))
        return self.output["LayerNorm"](x + ff)


class _TinyBert(nn.Module):
    def __init__(self, hidden: int, layers: int, heads: int, max_len: int = 16):
        super().__init__()
        self.embeddings = nn.ModuleDict(
            {"word_embeddings": nn.Embedding(VOCAB, hidden), "position_embeddings": nn.Embedding(max_len, hidden),
             "LayerNorm": nn.LayerNorm(hidden)}
        )
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(_BertLayer(hidden, heads) for _ in range(layers))
        self.pooler = nn.ModuleDict({"dense": nn.Linear(hidden, hidden)})

    def group_matcher(self) -> list[LayerGroup]:
        return _groups(self, "embeddings", "encoder.layer")

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        e = self.embeddings
        pos = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = e["LayerNorm"](e["word_embeddings"](input_ids) + e["position_embeddings"](pos))
        for layer in self.encoder.layer:
            x = layer(x)
        return torch.tanh(self.pooler["dense"](x[:, 0]))


class _TinyTorchEncoder(nn.Module):
    def __init__(self, hidden: int, layers: int, heads: int):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, hidden)
        block = nn.TransformerEncoderLayer(hidden, heads, dim_feedforward=2 * hidden, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(block, num_layers=layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(hidden)

    def group_matcher(self) -> list[LayerGroup]:
        return _groups(self, "embed", "encoder.layers")

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.norm(self.encoder(self.embed(input_ids))).mean(dim=1)


def tiny_bert(*, layers: int = 6, hidden: int = 16, heads: int = 2, num_classes: int = 3, seed: int = 0) -> TransferModel:
    """A BERT-shaped model with Hugging Face parameter names and a linear head."""
    torch.manual_seed(seed)
    return TransferModel(_TinyBert(hidden, layers, heads), nn.Linear(hidden, num_classes))


def tiny_torch_encoder(*, layers: int = 6, hidden: int = 16, heads: int = 2, num_classes: int = 3,
                       seed: int = 0) -> TransferModel:
    """A ``torch.nn.TransformerEncoder`` model with a linear head."""
    torch.manual_seed(seed)
    return TransferModel(_TinyTorchEncoder(hidden, layers, heads), nn.Linear(hidden, num_classes))


class FirstToken(nn.Module):
    """``(batch, tokens, hidden) -> (batch, hidden)``: the first token's hidden state."""

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return hidden_states[:, 0]


def tiny_zoo_bert(*, layers: int = 2, hidden: int = 16, heads: int = 4, num_classes: int = 3,
                  seed: int = 0) -> TransferModel:
    """zoo's ``BertModel`` (tiny, random weights, eval-ready) under a first-token linear head."""
    from zoo.models.bert import BertConfig, BertModel

    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=VOCAB, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                     intermediate_size=4 * hidden, max_position_embeddings=16, initializer_range=0.2)
    return TransferModel(BertModel(cfg), nn.Sequential(FirstToken(), nn.Linear(hidden, num_classes)))


def tiny_mlp(*, in_features: int = 16, hidden: int = 32, out_features: int = 4, seed: int = 0) -> nn.Module:
    """Linear-GELU-Linear-GELU-Linear, the reference model for compression passes."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(in_features, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                         nn.Linear(hidden, out_features))


def token_batch(batch: int = 4, length: int = 8, *, seed: int = 0) -> torch.Tensor:
    """Random token ids for the tiny encoders."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, (batch, length), generator=g)


def tiny_resnet(*, num_classes: int = 3, seed: int = 0) -> nn.Module:
    """zoo's CIFAR-layout ResNet-8 (random weights and BatchNorm statistics, eval mode): the
    reference model of compression passes for convolutional image backbones."""
    from zoo.models.resnet import ResNet, ResNetConfig

    torch.manual_seed(seed)
    model = ResNet(ResNetConfig(depth=8, layout="cifar", num_classes=num_classes))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
    return model.eval()


def image_batch(batch: int = 16, size: int = 32, *, seed: int = 0) -> torch.Tensor:
    """A batch of normalized random images ``(batch, 3, size, size)`` for :func:`tiny_resnet`."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, size, size, generator=g)
