"""Builtin freezing policies on real small modules: zoo's BERT encoder, torch's TransformerEncoder, a CNN."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo.contracts import FreezeReport
from zoo.errors import FreezingPolicyError, OptionsError
from zoo.models.bert import BertConfig, BertModel
from zoo.plugins import get_component, make_manager, validate_options
from zoo.testing.models import TransferModel, tiny_torch_encoder


@pytest.fixture(scope="module")
def pm():
    return make_manager(builtins=("freezing",), entry_points=False)


def bert(layers: int = 4) -> TransferModel:
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=layers, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=16)
    return TransferModel(BertModel(cfg, add_pooling_layer=True), nn.Linear(16, 3))


def apply(pm, name: str, model: nn.Module, **options) -> FreezeReport:
    comp = get_component("freezing", name, manager=pm)
    return comp.obj(model, validate_options(comp, options))


def trainable(model: nn.Module) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def test_none_trains_everything(pm):
    model = bert()
    report = apply(pm, "none", model)
    assert report.frozen_count == 0 and report.trainable_params == sum(p.numel() for p in model.parameters())


def test_all_but_head_trains_only_the_head(pm):
    model = bert()
    report = apply(pm, "all-but-head", model)
    assert report.trainable == ("head.weight", "head.bias")
    assert report.trainable_params == 16 * 3 + 3
    assert report.total_params == sum(p.numel() for p in model.parameters())


def test_first_k_on_hugging_face_names(pm):
    model = bert(layers=4)
    report = apply(pm, "first-k", model, k=2)
    names = trainable(model)
    assert not any(n.startswith("backbone.embeddings.") for n in names)
    assert not any(n.startswith(("backbone.encoder.layer.0.", "backbone.encoder.layer.1.")) for n in names)
    for prefix in ("backbone.encoder.layer.2.", "backbone.encoder.layer.3.", "backbone.pooler.", "head."):
        assert any(n.startswith(prefix) for n in names), prefix
    assert set(report.trainable) == names


def test_first_k_on_torch_transformer_encoder_names(pm):
    model = tiny_torch_encoder(layers=3)
    apply(pm, "first-k", model, k=1)
    names = trainable(model)
    assert not any(n.startswith(("backbone.embed.", "backbone.encoder.layers.0.")) for n in names)
    assert any(n.startswith("backbone.encoder.layers.1.") for n in names)
    assert {"backbone.norm.weight", "head.weight"} <= names


def test_first_k_zero_freezes_only_the_embeddings(pm):
    model = bert(layers=2)
    apply(pm, "first-k", model, k=0)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith("backbone.embeddings.") for n in frozen)


def test_first_k_errors(pm):
    with pytest.raises(FreezingPolicyError, match="k=5 but the backbone has 4 layers"):
        apply(pm, "first-k", bert(layers=4), k=5)
    mlp = TransferModel(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), nn.Linear(4, 2))
    with pytest.raises(FreezingPolicyError, match="has no group_matcher"):
        apply(pm, "first-k", mlp, k=1)
    with pytest.raises(OptionsError, match="k must be >= 0"):
        validate_options(get_component("freezing", "first-k", manager=pm), {"k": -1})


def test_bitfit_trains_biases_and_head(pm):
    model = bert()
    report = apply(pm, "bitfit", model)
    names = trainable(model)
    assert names == {n for n, _ in model.named_parameters() if n.endswith(".bias") or n.startswith("head.")}
    assert "backbone.encoder.layer.0.attention.self.query.bias" in names
    expected = sum(p.numel() for n, p in model.named_parameters() if n in names)
    assert report.trainable_params == expected


def test_norm_only_on_layernorm_and_batchnorm(pm):
    model = bert()
    apply(pm, "norm-only", model)
    names = trainable(model)
    assert "backbone.embeddings.LayerNorm.weight" in names and "head.weight" in names
    assert all("LayerNorm" in n or n.startswith("head.") for n in names)

    cnn = TransferModel(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.GroupNorm(2, 4)),
                        nn.Linear(4, 2))
    apply(pm, "norm-only", cnn)
    assert trainable(cnn) == {"backbone.1.weight", "backbone.1.bias", "backbone.3.weight", "backbone.3.bias",
                              "head.weight", "head.bias"}


def test_pattern_glob_and_regex(pm):
    model = bert()
    apply(pm, "pattern", model, trainable=["backbone.encoder.layer.3.*"])
    names = trainable(model)
    assert all(n.startswith(("backbone.encoder.layer.3.", "head.")) for n in names)
    assert any(n.startswith("backbone.encoder.layer.3.") for n in names)
    apply(pm, "pattern", model, trainable=[r"attention\.self\.(query|value)\.weight$"], syntax="regex")
    assert len(trainable(model)) == 4 * 2 + 2
    apply(pm, "pattern", model)
    assert trainable(model) == {"head.weight", "head.bias"}


def test_pattern_errors_point_at_the_pattern(pm):
    with pytest.raises(FreezingPolicyError, match="'backbone.encoder.layers.3.*' .glob. matches no parameter"):
        apply(pm, "pattern", bert(), trainable=["backbone.encoder.layers.3.*"])
    with pytest.raises(FreezingPolicyError, match="invalid regex"):
        apply(pm, "pattern", bert(), trainable=["(unclosed"], syntax="regex")


def test_missing_head_and_custom_head_prefix(pm):
    model = nn.ModuleDict({"backbone": nn.Linear(3, 3), "classifier": nn.Linear(3, 2)})
    comp = get_component("freezing", "all-but-head", manager=pm)
    with pytest.raises(FreezingPolicyError, match="no parameter under 'head.'"):
        comp.obj(model, None)
    report = comp.obj(model, None, head_prefix="classifier")
    assert report.trainable == ("classifier.weight", "classifier.bias")


def test_frozen_parameters_get_no_gradient_in_training(pm):
    model = bert(layers=2)
    apply(pm, "first-k", model, k=1)
    ids = torch.randint(1, 50, (2, 6))
    logits = model.head(model.backbone(ids)[:, 0])
    logits.sum().backward()
    for name, p in model.named_parameters():
        if not p.requires_grad:
            assert p.grad is None, name
    assert model.backbone.encoder.layer[1].output.dense.weight.grad is not None
