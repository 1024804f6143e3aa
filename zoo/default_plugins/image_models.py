"""Built-in plugin: the ``resnet``, ``efficientnet`` and ``vit`` image architectures (plain torch).

Key layouts follow timm (``resnet*``, ``tf_efficientnet_lite*``, ``vit_*``), so timm Hub repos
and repos written by ``zoo convert`` load natively; ``resnet`` also covers the CIFAR layout
with option-A shortcuts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from zoo.hub import ResolvedBackbone
    from zoo.registry import BackboneEntry

__all__ = ["build_image", "register_architectures"]


def build_image(entry: "BackboneEntry", resolved: "ResolvedBackbone", *, device: str = "cpu") -> Any:
    """Build a native image backbone from verified snapshot files; the entry's ``input`` table
    overrides the snapshot's ``pretrained_cfg``."""
    from zoo.errors import ArchitectureError
    from zoo.models.vision import build_image_backbone, native_config, read_config

    unlisted = [n for n in ("config.json", entry.weights_files[0].filename) if n not in resolved.files]
    if unlisted:  # the snapshot folder may hold other files; only the entry's (verified) ones are read
        raise ArchitectureError(
            f"{entry.source}, entry {entry.name!r}: an image backbone reads {', '.join(unlisted)}, which the entry "
            f"does not list. Add it to the entry's `files` with its sha256.")
    arch, _ = native_config(read_config(resolved.snapshot_dir))
    if arch != entry.architecture:
        raise ArchitectureError(
            f"entry {entry.name!r} says architecture {entry.architecture!r} but its config.json describes {arch!r}.")
    model = build_image_backbone(resolved.snapshot_dir, weights_file=entry.weights_files[0].filename,
                                 input_override=entry.input.image_dict(), device=device)
    if model.embedding_dim != entry.embedding_dim:
        raise ArchitectureError(
            f"entry {entry.name!r} declares embedding_dim {entry.embedding_dim}, the model has {model.embedding_dim}.")
    return model


@hookimpl
def register_architectures(register) -> None:
    register("resnet", build_image,
             summary="ResNet in plain torch: ImageNet layout (timm/torchvision keys) and CIFAR layout (option A).")
    register("efficientnet", build_image,
             summary="EfficientNet-Lite0..4 in plain torch, timm tf_efficientnet_lite layout (TF 'same' padding).")
    register("vit", build_image, summary="Vision Transformer in plain torch, timm layout (class-token pooling).")
