"""transferzoo: pinned, verified pretrained backbones and reproducible transfer experiments.

Importing ``zoo`` is cheap: torch is imported only when a model is built.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "hookimpl",
    "list_backbones",
    "backbone_info",
    "load_backbone",
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
