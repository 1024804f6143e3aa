"""``zoo.create_model``: a ready nn.Module from a registry name, a head and a freezing policy."""

from __future__ import annotations

import inspect

import pytest

import zoo
from zoo.errors import OptionsError, UnknownComponentError


def test_create_model_is_public_and_typed():
    assert "create_model" in zoo.__all__
    sig = inspect.signature(zoo.create_model)
    assert list(sig.parameters)[:5] == ["name", "num_classes", "head", "freezing", "head_options"]
    assert sig.parameters["num_classes"].annotation == "int" and sig.return_annotation == "TransferModel"


def test_create_model_on_the_real_minilm(warm_cache, monkeypatch):
    import torch

    monkeypatch.setenv("ZOO_OFFLINE", "1")
    model = zoo.create_model("all-minilm-l6-v2", num_classes=77, head="mlp", head_options={"hidden": 64},
                             freezing="first-k", freezing_options={"k": 4}, seed=0)
    assert isinstance(model, torch.nn.Module) and model.num_classes == 77
    assert model.pretrained_cfg.name == "all-minilm-l6-v2"
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(model.freeze_report.trainable)
    assert any(n.startswith("head.") for n in trainable)
    assert not any(n.startswith("backbone.model.encoder.layer.3.") for n in trainable)
    assert any(n.startswith("backbone.model.encoder.layer.4.") for n in trainable)
    model.eval()
    with torch.no_grad():
        logits = model(model.backbone.tokenize(["I lost my card", "How do I top up?"]))
    assert logits.shape == (2, 77) and torch.isfinite(logits).all()
    # the backbone part is the pretrained encoder: its pooled output is what load_backbone encodes
    emb = model.backbone.encode(["I lost my card"])
    assert emb.shape == (1, 384)
    again = zoo.create_model("all-minilm-l6-v2", num_classes=77, head="mlp", head_options={"hidden": 64},
                             freezing="first-k", freezing_options={"k": 4}, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.head.state_dict().values(), again.head.state_dict().values()))


def test_create_model_default_is_linear_probe(warm_cache, monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    model = zoo.create_model("all-minilm-l6-v2", num_classes=3)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["head.fc.weight", "head.fc.bias"]
    assert model.head.fc.out_features == 3 and model.head.fc.in_features == 384


@pytest.mark.parametrize("kwargs,error,needle", [
    ({"num_classes": 0}, OptionsError, "num_classes must be a positive integer"),
    ({"num_classes": 2, "head": "lineer"}, UnknownComponentError, "Did you mean: 'linear'"),
    ({"num_classes": 2, "head_options": {"dropuot": 0.1}}, OptionsError, "Did you mean: 'dropout'"),
    ({"num_classes": 2, "freezing": "first-k", "freezing_options": {"k": "four"}}, OptionsError, "'k'"),
])
def test_create_model_errors_before_loading_anything(kwargs, error, needle):
    with pytest.raises(error, match=needle):
        zoo.create_model("all-minilm-l6-v2", **kwargs)  # cold cache, no network: fails before any download
