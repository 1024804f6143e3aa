"""Compression that helps CNNs, on the real ResNet-20-CIFAR10 weights and real MNIST images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo.compress import run_passes
from zoo.data.idx import read_idx
from zoo.errors import CompressionPassError, CompressionOrderError
from zoo.models.image import images_to_batch


@pytest.fixture(scope="module")
def digits(shared_data):
    return read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")[:96]


@pytest.fixture
def resnet20(converted):
    from zoo.models.vision import build_image_backbone

    return build_image_backbone(converted("resnet20-cifar10").out_dir)


def test_static_int8_quantizes_every_convolution_and_shrinks_the_model(resnet20, digits):
    calib = images_to_batch(digits[:64], resnet20.input_spec)
    held_out = images_to_batch(digits[64:], resnet20.input_spec)
    result = run_passes(["static-int8"], resnet20, example_inputs=(calib,), latency=None)
    base, q = result.rows
    done = result.record[0]["info"]["backbones"]["<model>"]
    assert done == {"convolutions": 19, "int8_convolutions": 19, "calibration_images": 64}
    assert base.size_bytes / q.size_bytes > 3.0, (base.size_bytes, q.size_bytes)
    model = result.model
    with torch.no_grad():
        f_float, f_int8 = resnet20.forward_features(held_out), model.forward_features(held_out)
        agree = (resnet20(held_out).argmax(1) == model(held_out).argmax(1)).float().mean().item()
    rel = ((f_int8 - f_float).norm() / f_float.norm()).item()
    assert rel < 0.15 and agree >= 0.8, (rel, agree)
    assert model.embedding_dim == 64 and model.preprocess(digits[:2]).shape == (2, 3, 32, 32)


def test_static_int8_needs_calibration_inputs_and_an_image_backbone(resnet20):
    from zoo.compress.conv import static_int8

    with pytest.raises(CompressionPassError, match="example inputs"):
        static_int8(resnet20, example_inputs=None)
    with pytest.raises(CompressionPassError, match="no image backbone"):
        static_int8(torch.nn.Linear(2, 2), example_inputs=(torch.zeros(1, 2),))


def test_prune_channels_removes_inner_channels_and_keeps_the_api(resnet20, digits):
    batch = images_to_batch(digits[:16], resnet20.input_spec)
    result = run_passes([("prune-channels", {"fraction": 0.5})], resnet20, example_inputs=(batch,), latency=None)
    base, pruned = result.rows
    assert pruned.params < 0.6 * base.params and pruned.size_bytes < 0.6 * base.size_bytes
    model = result.model
    assert model.layer1[0].conv1.out_channels == 8 and model.layer1[0].conv2.in_channels == 8
    assert model.layer3[2].conv2.out_channels == 64  # block outputs keep their width
    with torch.no_grad():
        assert model.forward_features(batch).shape == (16, 64)
    assert [g.name for g in model.group_matcher()] == ["stem", "layer1", "layer2", "layer3"]


def test_pruning_after_int8_is_refused(resnet20):
    from zoo.compress import check_order

    with pytest.raises(CompressionOrderError, match="static-int8"):
        check_order(["static-int8", "prune-channels"])
