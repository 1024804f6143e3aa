"""Compression for convolutional image backbones: static int8 and channel pruning.

- :func:`static_int8`: post-training static quantization (``torch.ao`` FX graph mode) of each
  image backbone's ``forward_features``: convolutions, BatchNorm (folded), ReLU/ReLU6, adds and
  pooling run in int8, with activation ranges calibrated on example batches. TF "same" padded
  strided convolutions (EfficientNet) stay float. The backbone is replaced by a
  :class:`QuantizedImageBackbone` that keeps the backbone API (``preprocess``, ``embedding_dim``,
  ``group_matcher`` of the original, ...).
- :func:`prune_channels`: structured L1-norm filter pruning (Li et al. 2017) inside residual
  blocks: the inner channels of ResNet blocks (``conv1`` outputs of a BasicBlock, ``conv1``/``conv2``
  outputs of a Bottleneck) and the expanded channels of EfficientNet inverted residuals. Block
  outputs keep their width, so shortcuts are untouched; the pruned convolutions are smaller,
  which saves both size and time.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, Iterator

import torch
from torch import Tensor, nn

from zoo.errors import CompressionPassError

__all__ = ["image_backbones", "static_int8", "QuantizedImageBackbone", "prune_channels"]


def image_backbones(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every image backbone in ``model`` (``model`` itself when it is one)."""
    found = [(n, m) for n, m in model.named_modules()
             if getattr(m, "modality", None) == "image" and hasattr(m, "forward_features")
             and not isinstance(m, QuantizedImageBackbone)]
    outer = []
    for name, module in found:  # skip backbones nested inside another found backbone
        if not any(name.startswith(o + ".") for o, _ in outer if o):
            outer.append((name, module))
    return outer


def _set_module(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, leaf, module)


class _Features(nn.Module):
    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x: Tensor) -> Tensor:
        return self.backbone.forward_features(x)


class QuantizedImageBackbone(nn.Module):
    """An image backbone whose ``forward_features`` runs the int8 graph; the pretrained head
    (``forward_head``) stays float. Delegates the rest of the backbone API to the original."""

    modality = "image"

    def __init__(self, features: nn.Module, original: nn.Module):
        super().__init__()
        self.features = features
        self.head = copy.deepcopy(getattr(original, getattr(original, "classifier_prefix", lambda: "fc")(), None))
        self.input_spec = original.input_spec
        self.class_names = original.class_names
        self.config = original.config
        self._embedding_dim = original.embedding_dim
        self._groups = original.group_matcher()

    @property
    def embedding_dim(self) -> int:
        return self._embedding_dim

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def preprocess(self, inputs: Any) -> Tensor:
        from zoo.models.image import images_to_batch

        return images_to_batch(inputs, self.input_spec)

    def preprocessing(self) -> dict[str, Any]:
        return {"modality": "image", "input": self.input_spec.to_dict(), "pooling": "avg",
                "architecture": self.config.to_dict(), "quantized": "static-int8"}

    def group_matcher(self) -> list:
        return list(self._groups)  # names of the float model: the int8 graph has no trainable groups

    def forward_features(self, batch: Tensor) -> Tensor:
        return self.features(batch.float().cpu())

    def forward_head(self, features: Tensor) -> Tensor:
        if self.head is None:
            raise CompressionPassError("this quantized backbone has no pretrained classifier.")
        return self.head(features)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


def _calibration_batches(example_inputs: tuple[Any, ...] | None, backbone: nn.Module) -> list[Tensor]:
    if not example_inputs:
        raise CompressionPassError(
            "static-int8 needs example inputs to calibrate activation ranges; the runner passes a batch of "
            "the training split. Called directly, give example_inputs=(images_batch,).")
    batches = []
    for item in example_inputs:
        batch = item if isinstance(item, Tensor) else backbone.preprocess(item)
        if batch.ndim != 4:
            raise CompressionPassError(f"static-int8 calibrates on image batches (N, C, H, W); got {tuple(batch.shape)}.")
        batches.append(batch.float().cpu())
    return batches


def static_int8(model: nn.Module, *, example_inputs: tuple[Any, ...] | None, backend: str = "x86",
                per_channel: bool = True) -> dict[str, Any]:
    """Statically quantize every image backbone in ``model`` (in place); returns what was done.

    Raises:
        CompressionPassError: no image backbone, no calibration inputs, or the backend is missing.
    """
    from torch.ao.quantization import QConfigMapping, get_default_qconfig, get_default_qconfig_mapping
    from torch.ao.quantization.fx.custom_config import PrepareCustomConfig
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    from zoo.compress.quantize import quiet_ao
    from zoo.models.efficientnet import Conv2dSame

    if backend not in torch.backends.quantized.supported_engines:
        raise CompressionPassError(f"quantized backend {backend!r} is not available; this torch supports "
                                   f"{torch.backends.quantized.supported_engines}.")
    found = image_backbones(model)
    if not found:
        raise CompressionPassError("static-int8 found no image backbone (a module with modality 'image').")
    torch.backends.quantized.engine = backend
    done = {}
    for name, backbone in found:
        batches = _calibration_batches(example_inputs, backbone)
        qmap = get_default_qconfig_mapping(backend) if per_channel else QConfigMapping().set_global(
            get_default_qconfig(backend))
        custom = PrepareCustomConfig().set_non_traceable_module_classes([Conv2dSame])
        with quiet_ao(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            float_features = _Features(copy.deepcopy(backbone).cpu().eval())
            prepared = prepare_fx(float_features, qmap, example_inputs=(batches[0],),
                                  prepare_custom_config=custom)
            with torch.no_grad():
                for batch in batches:
                    prepared(batch)
            quantized = convert_fx(prepared)
        convs = sum(1 for m in backbone.modules() if isinstance(m, nn.Conv2d))
        float_convs = sum(1 for m in quantized.modules() if type(m) in (nn.Conv2d, Conv2dSame))
        wrapper = QuantizedImageBackbone(quantized, backbone)
        if name:
            _set_module(model, name, wrapper)
        else:
            model = wrapper
        done[name or "<model>"] = {"convolutions": convs, "int8_convolutions": convs - float_convs,
                                   "calibration_images": sum(len(b) for b in batches)}
    return {"model": model, "backend": backend, "backbones": done}


# --- channel pruning -----------------------------------------------------------------------------


def _keep(weight: Tensor, fraction: float) -> Tensor:
    """Indices of the output filters to keep: the largest L1 norms, in their original order."""
    out = weight.shape[0]
    n_keep = max(1, out - int(round(out * fraction)))
    scores = weight.detach().abs().flatten(1).sum(1)
    return scores.topk(n_keep).indices.sort().values


def _slice_conv(conv: nn.Conv2d, *, out_idx: Tensor | None = None, in_idx: Tensor | None = None) -> nn.Conv2d:
    weight = conv.weight.detach()
    groups = conv.groups
    if groups > 1:  # depthwise: channels in = channels out = groups
        if groups != conv.in_channels or groups != conv.out_channels:
            raise CompressionPassError(f"cannot prune a grouped convolution with {groups} groups that is not depthwise.")
        idx = out_idx if out_idx is not None else in_idx
        weight = weight[idx]
        groups = len(idx)
        cin, cout = len(idx), len(idx)
    else:
        if out_idx is not None:
            weight = weight[out_idx]
        if in_idx is not None:
            weight = weight[:, in_idx]
        cout, cin = weight.shape[0], weight.shape[1]
    new = copy.deepcopy(conv)
    new.in_channels, new.out_channels, new.groups = cin, cout, groups
    new.weight = nn.Parameter(weight.clone())
    if conv.bias is not None:
        bias = conv.bias.detach()
        new.bias = nn.Parameter((bias[out_idx] if out_idx is not None else bias).clone())
    return new


def _slice_bn(bn: nn.BatchNorm2d, idx: Tensor) -> nn.BatchNorm2d:
    new = copy.deepcopy(bn)
    new.num_features = len(idx)
    new.weight = nn.Parameter(bn.weight.detach()[idx].clone())
    new.bias = nn.Parameter(bn.bias.detach()[idx].clone())
    new.running_mean = bn.running_mean[idx].clone()
    new.running_var = bn.running_var[idx].clone()
    return new


def _prunable_blocks(model: nn.Module) -> Iterator[tuple[nn.Module, list[tuple[str, str, str]]]]:
    """Blocks and their (producer conv, its BN, consumer conv) chains whose channels can go."""
    from zoo.models.efficientnet import InvertedResidual
    from zoo.models.resnet import BasicBlock, Bottleneck

    for module in model.modules():
        if isinstance(module, BasicBlock):
            yield module, [("conv1", "bn1", "conv2")]
        elif isinstance(module, Bottleneck):
            yield module, [("conv1", "bn1", "conv2"), ("conv2", "bn2", "conv3")]
        elif isinstance(module, InvertedResidual):
            yield module, [("conv_pw", "bn1", "conv_dw")]


def prune_channels(model: nn.Module, *, fraction: float = 0.25) -> dict[str, Any]:
    """Remove ``fraction`` of the inner channels of every residual block (smallest L1 filters first).

    Raises:
        CompressionPassError: ``fraction`` is not in (0, 1), or the model has no prunable block.
    """
    from zoo.models.efficientnet import InvertedResidual

    if not 0 < fraction < 1:
        raise CompressionPassError(f"prune-channels: fraction must be in (0, 1), got {fraction}.")
    removed = kept = blocks = 0
    for block, chains in _prunable_blocks(model):
        blocks += 1
        for producer, bn, consumer in chains:
            conv = getattr(block, producer)
            idx = _keep(conv.weight, fraction)
            removed += conv.out_channels - len(idx)
            kept += len(idx)
            setattr(block, producer, _slice_conv(conv, out_idx=idx))
            setattr(block, bn, _slice_bn(getattr(block, bn), idx))
            if isinstance(block, InvertedResidual):  # the depthwise conv and its BN follow the same channels
                block.conv_dw = _slice_conv(block.conv_dw, out_idx=idx)
                block.bn2 = _slice_bn(block.bn2, idx)
                block.conv_pwl = _slice_conv(block.conv_pwl, in_idx=idx)
            else:
                setattr(block, consumer, _slice_conv(getattr(block, consumer), in_idx=idx))
    if not blocks:
        raise CompressionPassError("prune-channels found no ResNet or EfficientNet block to prune.")
    return {"blocks": blocks, "channels_removed": removed, "channels_kept": kept}

