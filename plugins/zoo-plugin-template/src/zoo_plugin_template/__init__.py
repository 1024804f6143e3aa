"""A template transferzoo plugin: contributes the ``template-cosine`` task head.

Rename it and replace the head with your own components; see README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zoo import hookimpl

__all__ = ["CosineHeadOptions", "build_cosine_head", "register_heads"]


@dataclass(frozen=True)
class CosineHeadOptions:
    """Options of ``template-cosine``: every field has a type, a default and help text."""

    scale: float = field(default=16.0, metadata={"help": "logits are scale x cosine(feature, class weight)"})

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")


def build_cosine_head(in_features: int, num_classes: int, options: CosineHeadOptions | None = None):
    """A cosine classifier: scaled cosine similarity between features and one weight vector per class."""
    from .head import CosineHead  # torch is imported here, not when zoo loads the plugin

    opts = options or CosineHeadOptions()
    return CosineHead(in_features, num_classes, opts.scale)


@hookimpl
def register_heads(register):
    # the summary defaults to the first docstring line of the registered object
    register("template-cosine", build_cosine_head, options=CosineHeadOptions)
