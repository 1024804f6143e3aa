"""zoo-timm: the architecture registers, timm's group patterns become zoo layer groups, and a
missing or broken timm is reported when an entry is built."""

from __future__ import annotations

import types

import pytest

import zoo_timm
from zoo.errors import ArchitectureError
from zoo.plugins import make_manager

# timm 1.0's ResNet.group_matcher(coarse=True) and VisionTransformer.group_matcher()
RESNET = {"stem": r"^conv1|bn1|maxpool", "blocks": r"^layer(\d+)"}
VIT = {"stem": r"^cls_token|reg_token|pos_embed|patch_embed|norm_pre",
       "blocks": [(r"^blocks\.(\d+)", None), (r"^norm", (99999,))]}


def test_groups_from_timm_patterns_on_native_models():
    from zoo.models.vision import build_image_model

    resnet = build_image_model({"architecture": "resnet18"})
    names = [n for n, _ in resnet.named_parameters()]
    groups = zoo_timm.groups_from_matcher(names, RESNET, exclude=("fc",))
    assert [g.name for g in groups] == ["stem", "blocks.1", "blocks.2", "blocks.3", "blocks.4"]
    assert [g.params for g in groups] == [g.params for g in resnet.group_matcher()]
    vit = build_image_model({"architecture": "vit_small_patch16_224"})
    groups = zoo_timm.groups_from_matcher([n for n, _ in vit.named_parameters()], VIT, exclude=("head",))
    assert groups[0].name == "stem" and groups[1].name == "blocks.0" and groups[-1].name == "blocks.99999"
    assert groups[-1].params == ("norm.weight", "norm.bias")


def test_the_plugin_registers_the_timm_architecture():
    pm = make_manager(builtins=True, entry_points=False)
    pm.register(zoo_timm, name="timm")
    from zoo.plugins import get_component

    comp = get_component("architecture", "timm", manager=pm)
    assert comp.obj is zoo_timm.build_timm and comp.plugin == "timm"


def test_a_timm_that_does_not_import_is_reported(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_timm(name, *args, **kwargs):
        if name == "timm":
            raise ImportError("libtorch_cuda.so: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_timm)
    entry = types.SimpleNamespace(name="my-timm-model")
    with pytest.raises(ArchitectureError, match="my-timm-model.*needs timm.*libtorch_cuda"):
        zoo_timm.build_timm(entry, types.SimpleNamespace(snapshot_dir=tmp_path))
