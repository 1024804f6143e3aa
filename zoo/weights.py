"""Load and save weights: safetensors only, memory-mapped, with a report of what was loaded.

Pickle checkpoints (``.bin``, ``.pt``, ``.pth``, ``.ckpt``, or any file that starts like a
pickle or a torch zip archive) can run arbitrary code when loaded, so zoo refuses them with a
:class:`~zoo.errors.WeightsFormatError` that says how to convert a trusted one.

:func:`load_into` copies a checkpoint into a module and returns a :class:`LoadReport`:
which keys were loaded, which the module expected but did not get (``missing``), which the
checkpoint had that the module has no use for (``unexpected``), and which parameters were left
freshly initialized on purpose (``reinitialized``, e.g. a new task head). The report is data,
not a log line: callers decide what is acceptable.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence, Union

from zoo._atomic import create_temp_file
from zoo.errors import ArchitectureError, WeightsFormatError

if TYPE_CHECKING:  # torch is imported when a function runs, so `import zoo.weights` stays cheap
    import torch
    from torch import nn

__all__ = ["LoadReport", "load_state_dict", "load_into", "read_safetensors_header", "save_file_atomic",
           "PICKLE_SUFFIXES"]

PathLike = Union[str, "os.PathLike[str]"]
KeyMap = Callable[[str], Union[str, None]]

#: File suffixes of pickle-based checkpoints, refused by name before the file is even opened.
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"})

_ZIP_MAGIC = b"PK\x03\x04"  # torch.save (zip format, torch >= 1.6)
_PICKLE_PROTO = 0x80  # pickle protocol >= 2 opcode; legacy torch.save starts with it too
_MAX_HEADER = 100 * 1024 * 1024  # same bound as the safetensors reader


# --- reading ------------------------------------------------------------------------------


def _conversion_hint(path: Path) -> str:
    target = path.with_suffix(".safetensors")
    return (
        f"{path} is a pickle checkpoint; zoo loads safetensors only, because unpickling can run "
        f"arbitrary code. If (and only if) you trust this file, convert it once:\n"
        f"    import torch, safetensors.torch\n"
        f"    sd = torch.load({str(path)!r}, map_location='cpu', weights_only=True)\n"
        f"    safetensors.torch.save_file({{k: v.contiguous() for k, v in sd.items()}}, {str(target)!r})"
    )


def _check_safetensors(path: Path) -> None:
    """Raise WeightsFormatError unless ``path`` looks like a safetensors file."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise WeightsFormatError(_conversion_hint(path))
    with path.open("rb") as fh:
        head = fh.read(9)
    # a safetensors file is an 8-byte header length then "{": check that first, since the length's
    # low byte may well be 0x80, the pickle protocol marker
    looks_safetensors = len(head) == 9 and head[8:9] == b"{"
    if not looks_safetensors and (head.startswith(_ZIP_MAGIC) or (head[:1] and head[0] == _PICKLE_PROTO)):
        raise WeightsFormatError(_conversion_hint(path))
    if len(head) < 9:
        raise WeightsFormatError(f"{path} is not a safetensors file: it is only {len(head)} bytes long.")
    (header_len,) = struct.unpack("<Q", head[:8])
    if header_len > _MAX_HEADER or head[8:9] != b"{":
        raise WeightsFormatError(
            f"{path} is not a safetensors file (no JSON header after the 8-byte length). "
            f"zoo loads safetensors weights only."
        )


def read_safetensors_header(path: PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Each tensor's ``(dtype, shape)``, from the file's JSON header only: no tensor data is read.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        WeightsFormatError: the file is a pickle checkpoint, or not a well-formed safetensors file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    _check_safetensors(path)
    with path.open("rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        raw = fh.read(length)
    if len(raw) != length:
        raise WeightsFormatError(f"{path} is truncated: its header should be {length} bytes, the file holds "
                                 f"{len(raw)} after the length.")
    try:
        header = json.loads(raw)
    except ValueError as exc:
        raise WeightsFormatError(f"{path}: the safetensors header is not valid JSON ({exc}).") from None
    if not isinstance(header, dict):
        raise WeightsFormatError(f"{path}: the safetensors header is {type(header).__name__}, not a JSON object.")
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shape = info.get("shape") if isinstance(info, dict) else None
        if not (isinstance(info, dict) and isinstance(info.get("dtype"), str) and isinstance(shape, list)
                and all(type(d) is int and d >= 0 for d in shape)):
            raise WeightsFormatError(f"{path}: header entry {name!r} is not a tensor description "
                                     f"({{\"dtype\": ..., \"shape\": [...], \"data_offsets\": [...]}}).")
        out[name] = (info["dtype"], tuple(shape))
    return out


def load_state_dict(path: PathLike, *, device: str = "cpu") -> dict[str, torch.Tensor]:
    """Return the tensors of a safetensors file, memory-mapped (nothing is copied up front).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        WeightsFormatError: the file is a pickle checkpoint (the message says how to convert a
            trusted one) or is not a valid safetensors file.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    _check_safetensors(path)
    try:
        with safe_open(str(path), framework="pt", device=device) as fh:
            return {key: fh.get_tensor(key) for key in fh.keys()}
    except SafetensorError as exc:
        raise WeightsFormatError(f"{path} is not a readable safetensors file: {exc}") from exc


# --- loading into a module ----------------------------------------------------------------


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_into` did. Every field is a sorted tuple of parameter/buffer names."""

    loaded: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    reinitialized: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing was missing and nothing was unexpected."""
        return not self.missing and not self.unexpected

    def summary(self, *, limit: int = 5) -> str:
        """One line: counts, with up to ``limit`` names of each non-empty problem list."""
        parts = [f"loaded {len(self.loaded)}"]
        for label in ("missing", "unexpected", "reinitialized"):
            names = getattr(self, label)
            if names:
                shown = ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
                parts.append(f"{label} {len(names)} ({shown})")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, list[str]]:
        """JSON-ready form (lists instead of tuples)."""
        return {key: list(value) for key, value in asdict(self).items()}

    def __str__(self) -> str:
        return self.summary()


def _matches(name: str, prefixes: Sequence[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _apply_key_map(state_dict: Mapping[str, torch.Tensor], key_map: KeyMap | None) -> dict[str, torch.Tensor]:
    """Rename checkpoint keys; a key mapped to None is dropped on purpose."""
    if key_map is None:
        return dict(state_dict)
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        new = key_map(key)
        if new is None:
            continue
        if new in out:
            raise ArchitectureError(f"key_map sends two checkpoint keys to {new!r} (one of them is {key!r}).")
        out[new] = tensor
    return out


def _check_shapes(source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]) -> None:
    bad = [
        f"{k}: checkpoint {tuple(source[k].shape)} vs module {tuple(target[k].shape)}"
        for k in sorted(source.keys() & target.keys())
        if source[k].shape != target[k].shape
    ]
    if bad:
        raise ArchitectureError(
            "checkpoint and module disagree on shapes: " + "; ".join(bad)
            + ". Pass the differing prefix in `reinit` if it is a new head, or fix the config."
        )


def load_into(
    module: nn.Module,
    state_dict_or_path: Mapping[str, torch.Tensor] | PathLike,
    *,
    strict: bool = False,
    key_map: KeyMap | None = None,
    reinit: Sequence[str] = (),
) -> LoadReport:
    """Copy checkpoint tensors into ``module`` and report what happened.

    Args:
        module: the target; its ``state_dict()`` keys (parameters and persistent buffers) are
            what is expected.
        state_dict_or_path: a mapping of tensors, or a path to a safetensors file.
        strict: raise when any key is missing or unexpected (after ``key_map`` and ``reinit``).
        key_map: renames each checkpoint key to a module key; returning None drops the key
            on purpose (it then appears nowhere in the report).
        reinit: module name prefixes (``"head"`` matches ``head.weight``, ``head.0.bias``) left
            at their current, fresh initialization on purpose; the checkpoint's tensors for
            them are ignored, and they are reported as ``reinitialized``.

    Raises:
        ArchitectureError: a shape differs, a ``reinit`` prefix matches nothing in the module,
            two keys map to one name, or (``strict``) keys are missing or unexpected.
        WeightsFormatError, FileNotFoundError: from :func:`load_state_dict`.
    """
    if isinstance(state_dict_or_path, Mapping):
        source = _apply_key_map(state_dict_or_path, key_map)
    else:
        source = _apply_key_map(load_state_dict(state_dict_or_path), key_map)
    target = module.state_dict()
    reinit = tuple(p.rstrip(".") for p in reinit)
    for prefix in reinit:
        if not any(_matches(k, (prefix,)) for k in target):
            raise ArchitectureError(f"reinit prefix {prefix!r} matches no parameter of {type(module).__name__}.")

    reinitialized = sorted(k for k in target if _matches(k, reinit))
    source = {k: v for k, v in source.items() if not _matches(k, reinit)}
    expected = {k: v for k, v in target.items() if not _matches(k, reinit)}
    _check_shapes(source, expected)

    report = LoadReport(
        loaded=tuple(sorted(source.keys() & expected.keys())),
        missing=tuple(sorted(expected.keys() - source.keys())),
        unexpected=tuple(sorted(source.keys() - expected.keys())),
        reinitialized=tuple(reinitialized),
    )
    if strict and not report.ok:
        raise ArchitectureError(
            f"strict load into {type(module).__name__} failed: "
            f"missing {list(report.missing)}, unexpected {list(report.unexpected)}."
        )
    import torch

    with torch.no_grad():
        module.load_state_dict({k: source[k] for k in report.loaded}, strict=False)
    return report


# --- writing ------------------------------------------------------------------------------


def save_file_atomic(
    tensors: Mapping[str, torch.Tensor], path: PathLike, metadata: Mapping[str, str] | None = None
) -> Path:
    """Write ``tensors`` as safetensors to ``path`` atomically; return the path.

    The file is written to a temporary file in the same directory, flushed to disk, then moved
    over ``path`` with :func:`os.replace`: readers see the old file or the new one, never half
    of one, and a failure leaves no temporary file behind.

    Raises:
        WeightsFormatError: ``path`` has a pickle suffix (zoo writes safetensors only).
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise WeightsFormatError(f"{path}: zoo writes safetensors only; use a .safetensors file name.")
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    meta = {str(k): str(v) for k, v in (metadata or {}).items()} or None
    fd, tmp = create_temp_file(path.parent, prefix=f".{path.name}.")
    os.close(fd)
    mode = os.stat(tmp).st_mode & 0o777  # what the umask allows; save_file may write 0600
    try:
        save_file(data, str(tmp), metadata=meta)
        os.chmod(tmp, mode)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path

