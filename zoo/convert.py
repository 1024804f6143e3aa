"""Safe conversion of a pickled PyTorch checkpoint into a Hub-style safetensors repo.

:func:`convert_checkpoint` reads the checkpoint with ``torch.load(weights_only=True)`` only:
torch's restricted unpickler, which builds tensors, containers and numbers and refuses every
other global, so a crafted pickle that would run code is refused
(:class:`~zoo.errors.WeightsFormatError`) instead of executed. The tensors are renamed to the
architecture's layout with a named key map, loaded into the native module with a load report
(missing, unexpected and shape-mismatched keys are errors; BatchNorm ``num_batches_tracked``
counters absent from old checkpoints are filled with 0 and reported), and written as
``model.safetensors`` beside a timm-style ``config.json`` (architecture, input spec, class names).

A converted repo has no Hub commit, so its ``revision`` is a content id: the sha1 of its file
names and sha256s. The same conversion gives the same bytes and so the same revision, and
:func:`registry_entry_toml` prints a registry entry pinning all of it, with a ``lineage``
table naming the source file and its sha256. ``zoo hub import DIR --repo R --revision REV``
then places the repo in the Hub cache.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from zoo._atomic import write_text_atomic
from zoo.errors import ArchitectureError, WeightsFormatError
from zoo._hashing import sha256_file

__all__ = ["KEY_MAPS", "ConversionReport", "read_checkpoint", "convert_checkpoint", "content_revision",
           "registry_entry_toml"]


def _identity(config: Any) -> Callable[[str], str | None]:
    return lambda key: key


def _akamaster(config: Any) -> Callable[[str], str | None]:
    from zoo.models.resnet import akamaster_key_map

    return akamaster_key_map


def _lukemelas(config: Any) -> Callable[[str], str | None]:
    from zoo.models.efficientnet import lukemelas_key_map

    return lukemelas_key_map(config)


#: key-map name -> factory taking the native config and returning ``key -> new key``.
KEY_MAPS: dict[str, Callable[[Any], Callable[[str], str | None]]] = {
    "identity": _identity,
    "akamaster": _akamaster,
    "lukemelas": _lukemelas,
}


@dataclass(frozen=True)
class ConversionReport:
    """What :func:`convert_checkpoint` did."""

    out_dir: Path
    source: Path
    source_sha256: str
    files: dict[str, str]
    revision: str
    loaded: int
    filled: tuple[str, ...]
    num_params: int
    embedding_dim: int
    architecture: str
    config: dict[str, Any] = field(default_factory=dict)


def read_checkpoint(path: Path, *, state_dict_key: str | None = None) -> dict[str, Any]:
    """The tensors of a pickled checkpoint, read with ``torch.load(weights_only=True)``.

    A top-level dict holding the tensors under ``state_dict_key`` (default: ``state_dict`` or
    ``model`` when present) is unwrapped; other non-tensor entries (epoch, accuracy) are dropped.

    Raises:
        WeightsFormatError: the pickle needs anything but tensors, containers and numbers
            (e.g. it would call a function), or holds no tensors.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, ValueError, EOFError) as exc:
        raise WeightsFormatError(
            f"{path} was refused: torch.load(weights_only=True) cannot read it without running code "
            f"or it is not a torch checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:300]}). zoo never "
            f"unpickles arbitrary objects; if you trust the file, re-save its state_dict with plain tensors.") from exc
    if isinstance(obj, Mapping):
        keys = [state_dict_key] if state_dict_key else ["state_dict", "model"]
        for key in keys:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
        else:
            if state_dict_key:
                raise WeightsFormatError(f"{path} has no {state_dict_key!r} table; its keys: {sorted(obj)[:10]}.")
    if not isinstance(obj, Mapping):
        raise WeightsFormatError(f"{path} holds a {type(obj).__name__}, not a state dict.")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsFormatError(f"{path} holds no tensors (keys: {sorted(map(str, obj))[:10]}).")
    return tensors


def content_revision(files: Mapping[str, str]) -> str:
    """A 40-hex content id for a converted repo: sha1 of its ``name sha256`` lines, sorted."""
    lines = "".join(f"{name} {sha}\n" for name, sha in sorted(files.items()))
    return hashlib.sha1(lines.encode("utf-8")).hexdigest()


def convert_checkpoint(source: Path, out_dir: Path, *, config: Mapping[str, Any], key_map: str = "identity",
                       state_dict_key: str | None = None) -> ConversionReport:
    """Convert ``source`` into ``out_dir`` (``model.safetensors`` + ``config.json``).

    ``config`` is the repo's ``config.json`` (timm format; see :mod:`zoo.models.vision`).

    Raises:
        WeightsFormatError: the checkpoint is refused (see :func:`read_checkpoint`).
        ArchitectureError: unknown key map, or keys missing, unexpected or of the wrong shape.
    """
    import torch

    from zoo.models.vision import build_image_model, native_config
    from zoo.weights import load_into, save_file_atomic

    if key_map not in KEY_MAPS:
        raise ArchitectureError(f"unknown key map {key_map!r}; known: {', '.join(sorted(KEY_MAPS))}.")
    source, out_dir = Path(source), Path(out_dir)
    tensors = read_checkpoint(source, state_dict_key=state_dict_key)
    arch, native = native_config(config)
    model = build_image_model(config)
    report = load_into(model, tensors, key_map=KEY_MAPS[key_map](native))
    filled = tuple(k for k in report.missing if k.endswith("num_batches_tracked"))
    missing = [k for k in report.missing if k not in filled]
    if missing or report.unexpected:
        raise ArchitectureError(
            f"{source} does not fit {type(model).__name__} {native} with key map {key_map!r}: "
            f"missing {missing[:10]}{' ...' if len(missing) > 10 else ''} ({len(missing)}), unexpected "
            f"{list(report.unexpected)[:10]} ({len(report.unexpected)}). Pick the right key map or architecture.")
    state = model.state_dict()
    for key in filled:
        state[key] = torch.zeros((), dtype=torch.long)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file_atomic(state, out_dir / "model.safetensors", metadata={"format": "pt"})
    write_text_atomic(out_dir / "config.json", json.dumps(dict(config), indent=2, sort_keys=True) + "\n")
    files = {name: sha256_file(out_dir / name) for name in ("config.json", "model.safetensors")}
    num_params = sum(p.numel() for p in model.parameters())
    return ConversionReport(out_dir=out_dir, source=source, source_sha256=sha256_file(source), files=files,
                            revision=content_revision(files), loaded=len(report.loaded), filled=filled,
                            num_params=num_params, embedding_dim=model.embedding_dim, architecture=arch,
                            config=dict(config))


def registry_entry_toml(report: ConversionReport, *, name: str, repo_id: str, license: str = "unknown",
                        description: str = "", source_url: str = "", key_map: str = "identity") -> str:
    """A ``registry.toml`` entry pinning the converted repo, with its lineage (written by tomli-w)."""
    from ._toml import dumps

    cfg = report.config.get("pretrained_cfg", {})
    image_input: dict[str, Any] = {}
    if "input_size" in cfg:
        image_input["image_size"] = list(cfg["input_size"])[-2:]
        image_input["channels"] = int(cfg["input_size"][0])
    for key in ("mean", "std", "interpolation", "crop_pct"):
        if key in cfg:
            image_input[key] = cfg[key]
    where = f"{source_url.rstrip('/')}/{report.source.name}" if source_url else report.source.name
    entry: dict[str, Any] = {
        "architecture": report.architecture, "repo_id": repo_id, "revision": report.revision,
        "integrity": "verified", "modality": "image", "license": license, "num_params": report.num_params,
        "embedding_dim": report.embedding_dim, "pooling": "mean",
        **({"description": description} if description else {}),
        **({"input": image_input} if image_input else {}),
        "files": dict(sorted(report.files.items())),
        "lineage": {"source": where, "source_sha256": report.source_sha256},
    }
    return f"# converted with `zoo convert --key-map {key_map}`\n" + dumps({"backbone": {name: entry}})
