"""One funnel from a registry name to a loaded, verified pretrained backbone."""

from __future__ import annotations

from typing import Any

from .config import settings as _settings

__all__ = ["load_backbone", "resolve_device"]


def resolve_device(device: str | None) -> str:
    """``auto`` (or None) means CUDA when present, else CPU."""
    if device in (None, "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_backbone(name: str, *, device: str | None = "cpu", offline: bool | None = None) -> Any:
    """Resolve ``name`` through the registry and the Hub, verify its files, build and load it.

    Returns an ``nn.Module`` with ``encode(...)`` and ``forward_features(...)``,
    plus ``pretrained_cfg`` (the registry entry), ``resolved`` (files and their
    verified sha256) and ``load_report`` (keys loaded, missing, unexpected).

    Raises:
        UnknownBackboneError: ``name`` is not registered.
        UnknownComponentError: no installed plugin provides the entry's architecture.
        OfflineCacheMissError, IntegrityError, HubError: the files cannot be had or verified.
    """
    from .hub import resolve
    from .plugins import get_component
    from .registry import backbone_info

    entry = backbone_info(name)
    arch = get_component("architecture", entry.architecture)
    resolved = resolve(entry, offline=offline, settings=_settings())
    model = arch.obj(entry, resolved, device=resolve_device(device))
    model.pretrained_cfg = entry
    model.resolved = resolved
    return model
