"""One funnel from a registry name to a loaded, verified pretrained backbone."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Mapping

from .config import settings as _settings
from .errors import DeviceError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from .models.transfer import TransferModel

__all__ = ["load_backbone", "create_model", "resolve_device"]


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


def create_model(
    name: str,
    *,
    num_classes: int,
    head: str = "linear",
    freezing: str = "all-but-head",
    head_options: Mapping[str, Any] | None = None,
    freezing_options: Mapping[str, Any] | None = None,
    device: str | None = "cpu",
    offline: bool | None = None,
    seed: int | None = None,
) -> TransferModel:
    """A pretrained backbone with a new head, freezing applied: the zoo's parts without a recipe.

    Like ``timm.create_model(name, num_classes=N)``::

        model = zoo.create_model("all-minilm-l6-v2", num_classes=77, freezing="first-k",
                                 freezing_options={"k": 4})
        logits = model(model.backbone.tokenize(["I lost my card"]))   # (1, 77)

    The backbone is loaded and verified as :func:`load_backbone` does; the head and the freezing
    policy are the plugin components of those names (``zoo plugins list --all``), with options
    validated as a recipe's are. Parameters are named ``backbone.*`` and ``head.*``. The result
    also carries ``freeze_report`` (a :class:`zoo.contracts.FreezeReport`), ``pretrained_cfg``
    and ``num_classes``. ``seed`` seeds the head's initialization (default: torch's global RNG).

    Raises:
        OptionsError: ``num_classes`` is not a positive integer, or an option does not validate.
        UnknownComponentError: no installed plugin provides ``head`` or ``freezing``.
        UnknownBackboneError, DeviceError, HubError: as :func:`load_backbone`.
    """
    from .errors import OptionsError
    from .plugins import get_component, validate_options
    from .models.transfer import TransferModel

    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise OptionsError(f"num_classes must be a positive integer, got {num_classes!r}.")
    head_c = get_component("head", head)
    freeze_c = get_component("freezing", freezing)
    head_opts = validate_options(head_c, head_options)
    freeze_opts = validate_options(freeze_c, freezing_options)
    backbone = load_backbone(name, device=device, offline=offline)
    if seed is not None:
        import torch

        torch.manual_seed(seed)
    model = TransferModel(backbone, head_c.obj(backbone.embedding_dim, num_classes, head_opts))
    model.to(next(backbone.parameters()).device)
    model.freeze_report = freeze_c.obj(model, freeze_opts, head_prefix="head")
    model.pretrained_cfg = backbone.pretrained_cfg
    model.num_classes = num_classes
    return model
