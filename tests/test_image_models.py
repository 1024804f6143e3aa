"""Native image backbones against independent references, on real weights where they exist.

timm cannot be imported beside the project's CPU torch (its torchvision dependency's PyPI
wheel links CUDA torch), so this file checks timm key compatibility against key names and
parameter counts written out from timm's model definitions, and forward passes against
references written here from the papers (functional torch, no zoo code). The comparison with
timm itself, on timm checkpoints served by the loopback Hub, runs timm in a venv of its own:
tests/test_timm_parity.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from image_support import preset_source, skimage_image

from zoo.contracts import Backbone
from zoo.errors import ArchitectureError
from zoo.models.image import ImageAugment, ImageInput, images_to_batch
from zoo.models.vision import build_image_model

TOL = 1e-4


def _randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights and BatchNorm statistics, so every tensor matters in a parity check."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype.is_floating_point:
                if name.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                else:
                    t.copy_(torch.randn(t.shape, generator=g) * (0.5 / math.sqrt(max(1, t[0].numel()))))
    return model.eval()


def _photos(size: int) -> torch.Tensor:
    spec = ImageInput(size=(size, size), crop_pct=0.875)
    return images_to_batch([skimage_image(n) for n in ("chelsea.png", "coffee.png")], spec)


def _bn(x, sd, p, eps=1e-5):
    return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                        False, 0.0, eps)


# --- timm key layout ----------------------------------------------------------------------

# written out from timm 1.0.31's resnet.py / efficientnet.py / vision_transformer.py definitions
TIMM_LAYOUTS = {
    "resnet18": (11_689_512, ["conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
                              "layer2.0.downsample.1.weight", "layer4.1.bn2.bias", "fc.weight", "fc.bias"]),
    "resnet50": (25_557_032, ["layer1.0.conv3.weight", "layer1.0.bn3.num_batches_tracked", "layer1.0.downsample.0.weight",
                              "layer3.5.conv2.weight", "layer4.2.bn3.weight", "fc.weight"]),
    "tf_efficientnet_lite0": (4_652_008, ["conv_stem.weight", "bn1.weight", "blocks.0.0.conv_dw.weight",
                                          "blocks.0.0.conv_pw.weight", "blocks.1.0.conv_pw.weight",
                                          "blocks.1.0.conv_pwl.weight", "blocks.5.3.bn3.running_mean",
                                          "blocks.6.0.conv_dw.weight", "conv_head.weight", "bn2.bias",
                                          "classifier.weight"]),
    "vit_small_patch16_224": (22_050_664, ["patch_embed.proj.weight", "cls_token", "pos_embed", "blocks.0.norm1.weight",
                                           "blocks.0.attn.qkv.weight", "blocks.0.attn.proj.bias", "blocks.11.norm2.bias",
                                           "blocks.11.mlp.fc1.weight", "blocks.11.mlp.fc2.bias", "norm.weight",
                                           "head.weight"]),
}
TIMM_SHAPES = {
    "resnet50": {"conv1.weight": (64, 3, 7, 7), "layer1.0.downsample.0.weight": (256, 64, 1, 1), "fc.weight": (1000, 2048)},
    "tf_efficientnet_lite0": {"conv_stem.weight": (32, 3, 3, 3), "blocks.0.0.conv_dw.weight": (32, 1, 3, 3),
                              "blocks.2.0.conv_dw.weight": (144, 1, 5, 5), "conv_head.weight": (1280, 320, 1, 1)},
    "vit_small_patch16_224": {"pos_embed": (1, 197, 384), "blocks.0.attn.qkv.weight": (1152, 384),
                              "blocks.0.mlp.fc1.weight": (1536, 384), "patch_embed.proj.weight": (384, 3, 16, 16)},
}


@pytest.mark.parametrize("name", sorted(TIMM_LAYOUTS))
def test_state_dict_follows_timm_layout(name):
    model = build_image_model({"architecture": name})
    count, keys = TIMM_LAYOUTS[name]
    sd = model.state_dict()
    assert sum(p.numel() for p in model.parameters()) == count
    assert set(keys) <= set(sd), sorted(set(keys) - set(sd))
    for key, shape in TIMM_SHAPES.get(name, {}).items():
        assert tuple(sd[key].shape) == shape, key


@pytest.mark.parametrize("name", ["resnet18", "tf_efficientnet_lite0", "vit_small_patch16_224"])
def test_backbone_contract_and_groups(name):
    model = _randomize(build_image_model({"architecture": name}))
    members = [m for m in Backbone.__dict__ if not m.startswith("_") and m != "modality"]
    assert all(callable(getattr(model, m)) for m in members if m != "embedding_dim"), members
    assert model.modality == "image" and model.embedding_dim > 0
    groups = model.group_matcher()
    names = [n for g in groups for n in g.params]
    assert len(names) == len(set(names)), "groups overlap"
    head = model.classifier_prefix() + "."
    assert set(names) == {n for n, _ in model.named_parameters() if not n.startswith(head)}
    order = [n for n, _ in model.named_parameters() if not n.startswith(head)]
    assert names == order, "groups must run from the input to the output"
    feats = model.forward_features(model.preprocess([skimage_image("coffee.png")]))
    assert feats.shape == (1, model.embedding_dim)
    prep = model.preprocessing()
    assert prep["input"]["size"] == list(model.input_spec.size) and prep["modality"] == "image"


# --- CIFAR ResNets: real akamaster weights against the paper's definition -------------------


def _cifar_reference(sd: dict, x: torch.Tensor, n: int) -> torch.Tensor:
    """He et al. 2016 sec. 4.2: 3x3 conv (16), 3 stages x n basic blocks (16/32/64), option-A
    shortcuts (stride-2 subsample, zero-padded channels), global average pool, fc."""
    sd = {k.removeprefix("module."): v for k, v in sd.items()}
    x = F.relu(_bn(F.conv2d(x, sd["conv1.weight"], padding=1), sd, "bn1"))
    for stage in range(3):
        for b in range(n):
            p = f"layer{stage + 1}.{b}"
            stride = 2 if stage > 0 and b == 0 else 1
            y = F.relu(_bn(F.conv2d(x, sd[p + ".conv1.weight"], stride=stride, padding=1), sd, p + ".bn1"))
            y = _bn(F.conv2d(y, sd[p + ".conv2.weight"], padding=1), sd, p + ".bn2")
            if stride == 2:
                extra = y.shape[1] - x.shape[1]
                x = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, extra // 2, extra - extra // 2))
            x = F.relu(y + x)
    return F.linear(x.mean((2, 3)), sd["linear.weight"], sd["linear.bias"])


@pytest.mark.parametrize("depth", [20, 32, 44, 56])
def test_cifar_resnet_matches_the_paper_definition_on_real_weights(depth, converted):
    from zoo.convert import read_checkpoint
    from zoo.models.vision import build_image_backbone

    name = f"resnet{depth}-cifar10"
    model = build_image_backbone(converted(name).out_dir)
    source = read_checkpoint(preset_source(name))
    photos = images_to_batch([skimage_image(n) for n in ("chelsea.png", "coffee.png", "rocket.jpg")], model.input_spec)
    with torch.no_grad():
        diff = (model(photos) - _cifar_reference(source, photos, (depth - 2) // 6)).abs().max().item()
    assert diff <= TOL, diff
    assert model.config.layout == "cifar" and model.class_names[3] == "cat"


# --- ImageNet ResNets against a reference written here ------------------------------------


def _imagenet_resnet_reference(sd: dict, x: torch.Tensor, blocks: tuple[int, ...], bottleneck: bool) -> torch.Tensor:
    x = F.relu(_bn(F.conv2d(x, sd["conv1.weight"], stride=2, padding=3), sd, "bn1"))
    x = F.max_pool2d(x, 3, 2, 1)
    for s, count in enumerate(blocks):
        for b in range(count):
            p = f"layer{s + 1}.{b}"
            stride = 2 if s > 0 and b == 0 else 1
            if bottleneck:
                y = F.relu(_bn(F.conv2d(x, sd[p + ".conv1.weight"]), sd, p + ".bn1"))
                y = F.relu(_bn(F.conv2d(y, sd[p + ".conv2.weight"], stride=stride, padding=1), sd, p + ".bn2"))
                y = _bn(F.conv2d(y, sd[p + ".conv3.weight"]), sd, p + ".bn3")
            else:
                y = F.relu(_bn(F.conv2d(x, sd[p + ".conv1.weight"], stride=stride, padding=1), sd, p + ".bn1"))
                y = _bn(F.conv2d(y, sd[p + ".conv2.weight"], padding=1), sd, p + ".bn2")
            if p + ".downsample.0.weight" in sd:
                x = _bn(F.conv2d(x, sd[p + ".downsample.0.weight"], stride=stride), sd, p + ".downsample.1")
            x = F.relu(y + x)
    return F.linear(x.mean((2, 3)), sd["fc.weight"], sd["fc.bias"])


@pytest.mark.parametrize("name,blocks,bottleneck", [("resnet18", (2, 2, 2, 2), False), ("resnet50", (3, 4, 6, 3), True)])
def test_imagenet_resnet_matches_reference(name, blocks, bottleneck):
    model = _randomize(build_image_model({"architecture": name}), seed=1)
    x = _photos(224)
    with torch.no_grad():
        diff = (model(x) - _imagenet_resnet_reference(model.state_dict(), x, blocks, bottleneck)).abs().max().item()
    assert diff <= TOL, diff


# --- ViT against a reference written here --------------------------------------------------


def _vit_reference(sd: dict, x: torch.Tensor, depth: int, heads: int) -> torch.Tensor:
    t = F.conv2d(x, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=16).flatten(2).transpose(1, 2)
    t = torch.cat([sd["cls_token"].expand(len(t), -1, -1), t], 1) + sd["pos_embed"]
    d = t.shape[-1]
    for i in range(depth):
        p = f"blocks.{i}."
        h = F.layer_norm(t, (d,), sd[p + "norm1.weight"], sd[p + "norm1.bias"], 1e-6)
        q, k, v = F.linear(h, sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"]).chunk(3, dim=-1)
        split = lambda z: z.reshape(len(z), -1, heads, d // heads).transpose(1, 2)  # noqa: E731
        att = (split(q) @ split(k).transpose(-1, -2) / math.sqrt(d // heads)).softmax(-1) @ split(v)
        t = t + F.linear(att.transpose(1, 2).reshape(t.shape), sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"])
        h = F.layer_norm(t, (d,), sd[p + "norm2.weight"], sd[p + "norm2.bias"], 1e-6)
        h = F.linear(F.gelu(F.linear(h, sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"])), sd[p + "mlp.fc2.weight"],
                     sd[p + "mlp.fc2.bias"])
        t = t + h
    t = F.layer_norm(t, (d,), sd["norm.weight"], sd["norm.bias"], 1e-6)
    return F.linear(t[:, 0], sd["head.weight"], sd["head.bias"])


def test_vit_matches_reference():
    model = _randomize(build_image_model({"architecture": "vit_small_patch16_224"}), seed=2)
    x = _photos(224)
    with torch.no_grad():
        diff = (model(x) - _vit_reference(model.state_dict(), x, 12, 6)).abs().max().item()
    assert diff <= TOL, diff


# --- EfficientNet-Lite: real weights against efficientnet-lite-pytorch ----------------------


@pytest.mark.parametrize("variant", ["lite0", "lite2"])
def test_efficientnet_lite_matches_efficientnet_lite_pytorch(variant, converted):
    from efficientnet_lite_pytorch import EfficientNet

    from zoo.convert import read_checkpoint
    from zoo.models.vision import build_image_backbone

    name = f"efficientnet-{variant}"
    model = build_image_backbone(converted(name).out_dir)
    ref = EfficientNet.from_name(name)
    ref.load_state_dict(read_checkpoint(preset_source(name)), strict=True)
    ref.eval()
    size = model.input_spec.size[0]
    photos = images_to_batch([skimage_image(n) for n in ("chelsea.png", "coffee.png", "astronaut.png")],
                             model.input_spec)
    assert photos.shape[-1] == size
    with torch.no_grad():
        ours, theirs = model(photos), ref(photos)
    diff = (ours - theirs).abs().max().item()
    assert diff <= TOL, diff
    assert torch.equal(ours.argmax(1), theirs.argmax(1))


def test_photographs_are_recognized(image_backbone):
    model = image_backbone("efficientnet-lite0")
    top = model.top_k([skimage_image("chelsea.png"), skimage_image("coffee.png")], k=5)
    cat_names = [n for n, _ in top[0]]
    coffee_names = [n for n, _ in top[1]]
    assert any("cat" in n.split(", ")[0].split() for n in cat_names), cat_names
    assert any(n.split(",")[0] in ("espresso", "cup", "coffee mug") for n in coffee_names), coffee_names
    assert len(model.class_names) == 1000 and model.pretrained_cfg.name == "efficientnet-lite0"


# --- preprocessing -------------------------------------------------------------------------


def test_preprocessing_resizes_crops_and_normalizes():
    spec = ImageInput(size=(224, 224), mean=(0.5,) * 3, std=(0.5,) * 3, crop_pct=0.875)
    batch = images_to_batch([skimage_image("chelsea.png")], spec)  # 451x300 -> short side 256 -> crop 224
    assert batch.shape == (1, 3, 224, 224) and -1.0 <= batch.min() and batch.max() <= 1.0
    from PIL import Image

    img = Image.open(skimage_image("chelsea.png")).convert("RGB").resize((384, 256), Image.Resampling.BILINEAR)
    expected = np.asarray(img, dtype=np.float32)[16:240, 80:304] / 255.0
    assert np.allclose(batch[0].permute(1, 2, 0).numpy(), (expected - 0.5) / 0.5, atol=1e-6)


def test_grey_digits_become_three_channels_and_arrays_are_accepted():
    from sklearn.datasets import load_digits

    digits = load_digits().images[:5] / 16.0  # float in [0, 1], (5, 8, 8)
    spec = ImageInput(size=(32, 32), crop_pct=1.0)
    batch = images_to_batch(digits, spec)
    assert batch.shape == (5, 3, 32, 32)
    assert torch.equal(batch[:, 0] * 0.229 + 0.485, batch[:, 1] * 0.224 + 0.456) or torch.allclose(
        batch[:, 0] * 0.229 + 0.485, batch[:, 1] * 0.224 + 0.456, atol=1e-6)
    with pytest.raises(ArchitectureError, match="uint8, or float in"):
        images_to_batch(load_digits().images[:2], spec)  # 0..16, not scaled


def test_augmentation_is_seeded():
    spec = ImageInput(size=(64, 64))
    aug = ImageAugment()
    paths = [skimage_image("astronaut.png")] * 4
    a = images_to_batch(paths, spec, augment=aug, seed=3)
    b = images_to_batch(paths, spec, augment=aug, seed=3)
    c = images_to_batch(paths, spec, augment=aug, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a[0], a[1]), "each image draws its own crop"
