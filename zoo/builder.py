"""One funnel from a registry name to a loaded, verified pretrained backbone."""

from __future__ import annotations

import re
from typing import Any

from .config import settings as _settings
from .errors import DeviceError, did_you_mean

__all__ = ["load_backbone", "resolve_device"]


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def resolve_device(device: str | None) -> str:
    """The torch device to use: ``auto`` (or None) means CUDA when present, else CPU.

    Raises:
        DeviceError: ``device`` is not ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, or names
            hardware this machine lacks (no CUDA, fewer GPUs, no MPS).
    """
    if device is not None and (not isinstance(device, str) or not _DEVICE.match(device)):
        raise DeviceError(f"device {device!r} is not a device name; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'."
                          f"{did_you_mean(str(device), ['auto', 'cpu', 'cuda', 'mps'])}", device=str(device))
    if device == "cpu":
        return device
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError("device 'mps': Apple's Metal backend is not available here; use 'auto' or 'cpu'.",
                              device=device)
        return device
    if not torch.cuda.is_available():
        raise DeviceError(f"device {device!r}: CUDA is not available on this machine (torch {torch.__version__}); "
                          "use device 'auto' or 'cpu'.", device=device)
    index = int(device.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceError(f"device {device!r}: this machine has {count} CUDA device(s) (cuda:0 to cuda:{count - 1}); "
                          "pick one of them, or 'auto'.", device=device)
    return device


def load_backbone(name: str, *, device: str | None = "cpu", offline: bool | None = None) -> Any:
    """Resolve ``name`` through the registry and the Hub, verify its files, build and load it.

    Returns an ``nn.Module`` with ``encode(...)`` and ``forward_features(...)``,
    plus ``pretrained_cfg`` (the registry entry), ``resolved`` (files and their
    verified sha256) and ``load_report`` (keys loaded, missing, unexpected).

    Raises:
        DeviceError: ``device`` is not valid or not present (see :func:`resolve_device`).
        UnknownBackboneError: ``name`` is not registered.
        UnknownComponentError: no installed plugin provides the entry's architecture.
        OfflineCacheMissError, IntegrityError, HubError: the files cannot be had or verified.
    """
    from .hub import resolve
    from .plugins import get_component
    from .registry import backbone_info

    device = resolve_device(device)  # a bad device fails before any download
    entry = backbone_info(name)
    arch = get_component("architecture", entry.architecture)
    resolved = resolve(entry, offline=offline, settings=_settings())
    model = arch.obj(entry, resolved, device=device)
    model.pretrained_cfg = entry
    model.resolved = resolved
    return model
