"""Run directories and run records.

A run writes into ``<output_dir>/<run_id>.partial/`` and renames it to ``<output_dir>/<run_id>/``
only after every file is in place, so an interrupted run leaves nothing that looks complete.
Each file inside is itself written atomically. A finished run directory holds:

================================  ===========================================================
``recipe.toml``                   the resolved recipe (overrides applied)
``record.json``                   the reproducibility record (see :func:`build_record`)
``head.safetensors``              the trained head (when the run trained one)
``backbone-trainable.safetensors``  trained backbone tensors (fine-tuning runs only)
``report.md``, ``*.svg``          the short report with learning curve and confusion matrix
================================  ===========================================================
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .._atomic import write_text_atomic

__all__ = ["RunDirectory", "new_run_id", "utc_now", "environment", "plugin_versions", "RECORD_FORMAT",
           "load_record", "PARTIAL_SUFFIX"]

RECORD_FORMAT = 1
PARTIAL_SUFFIX = ".partial"


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_run_id(name: str) -> str:
    """``NAME-YYYYmmddTHHMMSSZ-xxxxxx``: sortable by start time, unique by a random suffix."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{name}-{stamp}-{secrets.token_hex(3)}"


@dataclass
class RunDirectory:
    """``<output_dir>/<run_id>.partial`` while running, ``<output_dir>/<run_id>`` when complete."""

    output_dir: Path
    run_id: str

    @property
    def partial(self) -> Path:
        return self.output_dir / f"{self.run_id}{PARTIAL_SUFFIX}"

    @property
    def final(self) -> Path:
        return self.output_dir / self.run_id

    def create(self) -> Path:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.partial.mkdir()
        return self.partial

    def path(self, name: str) -> Path:
        return self.partial / name

    def write_text(self, name: str, text: str) -> Path:
        path = self.path(name)
        write_text_atomic(path, text)
        return path

    def write_json(self, name: str, data: Any) -> Path:
        return self.write_text(name, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")

    def finalize(self) -> Path:
        """Rename ``.partial`` to the final name; the run is complete only after this."""
        if self.final.exists():
            raise FileExistsError(f"{self.final} already exists; run ids are unique, so this is a bug.")
        os.replace(self.partial, self.final)
        _fsync_dir(self.output_dir)
        return self.final


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to a run record")


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Host and software versions, for the record."""
    import numpy
    import torch

    from .. import __version__

    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "zoo": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": _version("scikit-learn"),
        "tokenizers": _version("tokenizers"),
        "safetensors": _version("safetensors"),
        "cuda": torch.version.cuda,
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def plugin_versions() -> list[dict[str, Any]]:
    """Every loaded plugin with its distribution and version."""
    from ..plugins import list_plugins

    return [{"name": p.name, "distribution": p.distribution, "version": p.version, "builtin": p.builtin}
            for p in list_plugins(failed=False)]


def load_record(run_dir: str | Path) -> dict[str, Any]:
    """Read ``record.json`` of a finished run directory.

    Raises:
        FileNotFoundError: not a finished run directory (``.partial`` directories are refused).
    """
    run_dir = Path(run_dir)
    if run_dir.name.endswith(PARTIAL_SUFFIX):
        raise FileNotFoundError(f"{run_dir} is an interrupted run ({PARTIAL_SUFFIX}); it has no complete record.")
    path = run_dir / "record.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has no record.json; is it a run directory written by `zoo run`?")
    return json.loads(path.read_text(encoding="utf-8"))
