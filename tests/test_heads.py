"""Builtin heads ``linear`` and ``mlp``: shapes, options, and that they learn on real data."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo.errors import OptionsError
from zoo.plugins import get_component, make_manager, validate_options
from zoo.testing import single_threaded


@pytest.fixture(scope="module")
def pm():
    return make_manager(builtins=("heads",), entry_points=False)


def _head(pm, name, in_features, num_classes, **options):
    comp = get_component("head", name, manager=pm)
    return comp.obj(in_features, num_classes, validate_options(comp, options))


def test_linear_head_is_dropout_then_one_affine_layer(pm):
    head = _head(pm, "linear", 12, 4, dropout=0.2, bias=False)
    assert [n for n, _ in head.named_parameters()] == ["fc.weight"]
    assert head.dropout.p == 0.2
    assert head(torch.randn(5, 12)).shape == (5, 4)


def test_mlp_head_layers_norm_and_activation(pm):
    head = _head(pm, "mlp", 12, 3, hidden=8, layers=2, activation="relu", norm=True, dropout=0.0)
    kinds = [type(m).__name__ for m in head]
    assert kinds == ["Linear", "LayerNorm", "ReLU", "Dropout", "Linear", "LayerNorm", "ReLU", "Dropout", "Linear"]
    assert head(torch.randn(2, 12)).shape == (2, 3)
    default = _head(pm, "mlp", 12, 3)
    assert [type(m).__name__ for m in default] == ["Linear", "GELU", "Dropout", "Linear"]
    assert default[0].out_features == 256


@pytest.mark.parametrize("name, options, error", [
    ("mlp", {"layers": 0}, "layers must be at least 1"),
    ("mlp", {"activation": "swish"}, "expected 'gelu' | 'relu' | 'tanh'"),
    ("linear", {"dropout": 1.0}, "dropout must be in [0, 1)"),
])
def test_bad_head_options(pm, name, options, error):
    with pytest.raises(OptionsError) as info:
        validate_options(get_component("head", name, manager=pm), options)
    assert error in str(info.value)


def test_bad_sizes_are_refused(pm):
    with pytest.raises(ValueError, match="positive"):
        _head(pm, "linear", 0, 3)


@pytest.mark.parametrize("name", ["linear", "mlp"])
def test_heads_learn_digits(pm, name):
    """On scikit-learn's digits (64 pixel features), a few hundred full-batch steps reach > 90% held-out accuracy."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    with single_threaded(torch=True):
        torch.manual_seed(0)
        head = _head(pm, name, 64, 10, dropout=0.0)
        opt = torch.optim.Adam(head.parameters(), lr=1e-2)
        for _ in range(150):
            opt.zero_grad()
            nn.functional.cross_entropy(head(X[:1200]), y[:1200]).backward()
            opt.step()
        head.eval()
        with torch.no_grad():
            accuracy = (head(X[1200:]).argmax(1) == y[1200:]).float().mean().item()
    assert accuracy > 0.9
