"""transferzoo: pinned, verified pretrained backbones and reproducible transfer experiments.

Importing ``zoo`` is cheap: torch is imported only when a model is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see the lazily imported names with their signatures
    from .builder import create_model, load_backbone
    from .registry import BackboneEntry, backbone_info, get_registry, list_backbones

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "hookimpl",
    "list_backbones",
    "backbone_info",
    "load_backbone",
    "create_model",
    "get_registry",
    "BackboneEntry",
]

_LAZY = {
    "hookimpl": ("zoo.hookspecs", "hookimpl"),
    "list_backbones": ("zoo.registry", "list_backbones"),
    "backbone_info": ("zoo.registry", "backbone_info"),
    "get_registry": ("zoo.registry", "get_registry"),
    "BackboneEntry": ("zoo.registry", "BackboneEntry"),
    "load_backbone": ("zoo.builder", "load_backbone"),
    "create_model": ("zoo.builder", "create_model"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
