"""Domain-adaptation methods on real data (scikit-learn digits, MNIST t10k) with named shifts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from zoo.adapt.criteria import importance_weights, prediction_entropy, score_candidate
from zoo.adapt.dann import fit_dann
from zoo.adapt.features import fit_coral, fit_self_training
from zoo.adapt.norm import adabn, batchnorm_layers, tent
from zoo.contracts import AdaptationNeeds
from zoo.errors import AdaptationError


def _probe():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))


@pytest.fixture(scope="module")
def digits_shift():
    """Source: 900 real digits; target: the other 897 under a named shift (noise, one-pixel translation)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    idx = np.random.default_rng(0).permutation(len(X))
    s, t = idx[:900], idx[900:]
    im = X[t].reshape(-1, 8, 8)
    moved = np.zeros_like(im)
    moved[:, :, 1:] = im[:, :, :-1]
    noisy = np.clip(X[t] + np.random.default_rng(1).normal(0, 0.35, X[t].shape), 0, 1)
    h = len(t) // 2
    return {"Xs": X[s], "ys": y[s], "shifts": {"translate": moved.reshape(-1, 64), "noise": noisy}, "yt": y[t], "h": h}


def _acc(model, X, y):
    return float((model.predict(X) == y).mean())


def test_self_training_beats_source_only_under_translation(digits_shift):
    d = digits_shift
    Xt, h = d["shifts"]["translate"], d["h"]
    source = _acc(_probe().fit(d["Xs"], d["ys"]), Xt[h:], d["yt"][h:])
    adapted = _acc(fit_self_training(_probe, d["Xs"], d["ys"], Xt[:h]), Xt[h:], d["yt"][h:])
    assert adapted > source + 0.01, (source, adapted)


def test_dann_gradient_reversal_beats_its_ablation_under_noise(digits_shift):
    d = digits_shift
    Xt, h = d["shifts"]["noise"], d["h"]
    kw = dict(epochs=30, seed=0)
    without = _acc(fit_dann(d["Xs"], d["ys"], Xt[:h], domain_weight=0.0, **kw), Xt[h:], d["yt"][h:])
    with_grl = _acc(fit_dann(d["Xs"], d["ys"], Xt[:h], domain_weight=1.0, **kw), Xt[h:], d["yt"][h:])
    assert with_grl > without + 0.02, (without, with_grl)


def test_dann_is_deterministic(digits_shift):
    d = digits_shift
    Xt = d["shifts"]["noise"][: d["h"]]
    a = fit_dann(d["Xs"], d["ys"], Xt, epochs=2, seed=3).predict_proba(Xt)
    b = fit_dann(d["Xs"], d["ys"], Xt, epochs=2, seed=3).predict_proba(Xt)
    assert np.array_equal(a, b)


def test_coral_maps_source_covariance_towards_target(digits_shift):
    d = digits_shift
    Xt = d["shifts"]["noise"]
    model = fit_coral(_probe, d["Xs"], d["ys"], Xt, reg=0.1)
    aligned = model.source_view(d["Xs"])
    gap = lambda A: np.linalg.norm(np.cov(A, rowvar=False) - np.cov(Xt, rowvar=False))  # noqa: E731
    assert gap(aligned) < 0.5 * gap(d["Xs"])
    assert model.predict_proba(Xt).shape == (len(Xt), 10)


def test_coral_leaves_scikit_learn_metadata_routing_off():
    """Importing skada switches routing on process-wide; after CORAL a weighted pipeline fit still works."""
    import os
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    code = """
import sklearn
from sklearn.datasets import load_digits
from zoo.adapt.features import fit_coral
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
X, y = load_digits(return_X_y=True)
probe = lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))
fit_coral(probe, X[:600] / 16, y[:600], X[600:1200] / 16 + 0.1)
assert sklearn.get_config()["enable_metadata_routing"] is False
probe().fit(X[:600], y[:600], logisticregression__sample_weight=[1.0] * 600)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_criteria_read_no_target_labels(digits_shift):
    d = digits_shift
    Xt, h = d["shifts"]["noise"], d["h"]
    model = _probe().fit(d["Xs"][:700], d["ys"][:700])
    kw = dict(X_target=Xt[:h], X_val=d["Xs"][700:], y_val=d["ys"][700:], X_source=d["Xs"][:700])
    scores = {c: score_candidate(c, model, **kw) for c in ("entropy", "source-validation", "importance-weighted")}
    assert scores["entropy"] < 0 and 0.8 < scores["source-validation"] <= 1 and 0 < scores["importance-weighted"] <= 1
    with pytest.raises(AdaptationError, match="labeled source validation"):
        score_candidate("source-validation", model, X_target=Xt, X_val=None, y_val=None)
    with pytest.raises(AdaptationError, match="unknown selection criterion 'accuracy'"):
        score_candidate("accuracy", model, **kw)


def test_prediction_entropy_and_importance_weights():
    assert prediction_entropy(np.eye(3)) == pytest.approx(0.0, abs=1e-9)
    assert prediction_entropy(np.full((2, 4), 0.25)) == pytest.approx(np.log(4))
    rng = np.random.default_rng(0)
    src, tgt = rng.normal(0, 1, (400, 2)), rng.normal(1.5, 1, (400, 2))
    w = importance_weights(src, tgt, np.array([[1.5, 1.5], [-1.5, -1.5]]))
    assert w[0] > 1 > w[1]


@pytest.fixture(scope="module")
def mnist_images(shared_data):
    from zoo.data.idx import read_idx

    images = read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz", ndim=3)[:512].astype(np.float32) / 255.0
    return torch.from_numpy(images).unsqueeze(1)


def _bn_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 10))


def test_adabn_sets_running_statistics_to_the_target_ones(mnist_images):
    net = _bn_net()
    inverted = 1.0 - mnist_images  # a named shift: contrast inversion
    batches = [inverted[i:i + 64] for i in range(0, len(inverted), 64)]
    seen = adabn(net, batches, net)
    assert seen == len(inverted) and not net.training
    with torch.no_grad():
        conv_out = net[0](inverted)
    bn = batchnorm_layers(net)[0]
    assert torch.allclose(bn.running_mean, conv_out.mean(dim=(0, 2, 3)), atol=1e-5)
    assert bn.momentum == 0.1  # restored


def test_tent_lowers_entropy_and_changes_only_norm_affine(mnist_images):
    net = _bn_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    batches = [mnist_images[i:i + 64] for i in range(0, len(mnist_images), 64)]
    losses = tent(net, lambda: batches, net, steps=3, lr=1e-2)
    assert losses[-1] < losses[0]
    changed = {k for k, v in net.state_dict().items() if not torch.equal(v, before[k])}
    assert {"1.weight", "1.bias"} <= changed
    assert not changed & {"0.weight", "0.bias", "5.weight", "5.bias"}
    assert all(p.requires_grad for p in net.parameters())


def test_needs_name_what_is_missing():
    needs = AdaptationNeeds(source_labels=True, batchnorm=True)
    assert needs.missing(has_target=True, has_source_labels=False, has_batchnorm=False,
                         trainable_backbone=False) == ("source_labels", "batchnorm")
    assert AdaptationNeeds().missing(has_target=False, has_source_labels=True, has_batchnorm=True,
                                     trainable_backbone=True) == ("target_inputs",)


def test_builtin_methods_are_plugins_with_validated_options():
    from zoo.errors import OptionsError
    from zoo.plugins import get_component, list_components, make_manager, validate_options

    pm = make_manager(builtins=True, entry_points=False)
    names = {c.name for c in list_components("adaptation", manager=pm)}
    assert {"adabn", "coral", "dann", "self-training", "tent"} <= names
    comp = get_component("adaptation", "self-training", manager=pm)
    assert comp.plugin == "zoo.default_plugins.adaptation"
    assert validate_options(comp, {"keep": 0.5}).keep == 0.5
    with pytest.raises(OptionsError, match="keep"):
        validate_options(comp, {"keep": 1.5})
