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
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .._atomic import write_text_atomic

__all__ = ["RunDirectory", "RunRecord", "new_run_id", "utc_now", "environment", "plugin_versions", "RECORD_FORMAT",
           "READABLE_FORMATS", "load_record", "PARTIAL_SUFFIX", "stale_partials", "latest_run"]

RECORD_FORMAT = 2
"""Version of ``record.json``. 2 added ``options`` (every option with its value in effect, defaults
included) and ``recipe.sha256`` (of the run's ``recipe.toml``)."""

READABLE_FORMATS = (1, 2)
"""Formats :func:`load_record` reads. A format 1 record holds no defaults: ``zoo reproduce`` warns
that today's defaults fill the gaps."""

PARTIAL_SUFFIX = ".partial"
OWNER_FILE = "owner.json"


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
        """Make the ``.partial`` directory, with an ``owner.json`` (host, pid) that tells
        :func:`stale_partials` whether the run is still alive."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.partial.mkdir()
        self.write_text(OWNER_FILE, json.dumps({"host": platform.node(), "pid": os.getpid()}) + "\n")
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
        (self.partial / OWNER_FILE).unlink(missing_ok=True)
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


@dataclass(frozen=True)
class RunRecord(Mapping):
    """The typed, versioned ``record.json`` of a finished run (field order = key order in the file).

    ``options`` holds every option with the value in effect (defaults included): ``zoo reproduce``
    re-runs these, not today's defaults. It is also a read-only mapping of its fields
    (``record["metrics"]``), as the JSON object is.
    """

    format: int
    run_id: str
    name: str
    description: str
    status: str
    started_at: str
    finished_at: str
    recipe: dict[str, Any]
    options: dict[str, Any]
    environment: dict[str, Any]
    plugins: list[dict[str, Any]]
    components: dict[str, Any]
    backbone: dict[str, Any]
    dataset: dict[str, Any]
    seed: int
    device: str
    determinism: dict[str, Any]
    freezing: dict[str, Any]
    training: dict[str, Any] | None
    compression: dict[str, Any]
    metrics: dict[str, Any]
    evaluations: dict[str, Any]
    feature_cache: dict[str, Any]
    artifacts: dict[str, str]
    timings: dict[str, float]
    zoo_version: str
    distributed: dict[str, Any] = field(default_factory=dict)
    adaptation: dict[str, Any] = field(default_factory=dict)
    """With ``[data.target]``: the method, its options, the selection criterion, and per evaluator
    (and head) the ``source_only`` and ``adapted`` metrics on the target test."""

    def __getitem__(self, key: str) -> Any:
        if key not in _FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(_FIELDS)

    def __len__(self) -> int:
        return len(_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data: Any, *, path: str = "record.json") -> RunRecord:
        """Read a parsed ``record.json``; a format 1 record gets ``options`` from its resolved recipe.

        Raises:
            RunRecordError: not an object, a format this zoo does not read, or keys missing.
        """
        from ..errors import RunRecordError

        if not isinstance(data, Mapping):
            raise RunRecordError(f"a run record is a JSON object, got {type(data).__name__}.", path=path)
        version = data.get("format")
        if version not in READABLE_FORMATS:
            raise RunRecordError(f"record format {version!r} is not one this zoo reads ({', '.join(map(str, READABLE_FORMATS))}); "
                                 "re-run the recipe with this zoo, or use the zoo version that wrote it.", path=path)
        values = dict(data)
        if version == 1:
            values.setdefault("options", dict((values.get("recipe") or {}).get("resolved") or {}))
        missing = [name for name in _REQUIRED if name not in values]
        if missing:
            raise RunRecordError(f"the record is incomplete: no {', '.join(missing)}. It was not written by a "
                                 "finished `zoo run`; run the recipe again.", path=path)
        return cls(**{name: values[name] for name in _FIELDS if name in values})


_FIELDS = tuple(f.name for f in dataclasses.fields(RunRecord))
_REQUIRED = tuple(f.name for f in dataclasses.fields(RunRecord) if f.default is dataclasses.MISSING
                  and f.default_factory is dataclasses.MISSING)


def load_record(run_dir: str | Path) -> RunRecord:
    """Read and check ``record.json`` of a finished run directory.

    Raises:
        RunRecordError: no such directory, an interrupted run (``.partial``), no record, a record
            that is not JSON, incomplete, or of a format this zoo does not read.
    """
    from ..errors import RunRecordError

    run_dir = Path(run_dir)
    if run_dir.name.endswith(PARTIAL_SUFFIX):
        raise RunRecordError(f"an interrupted run ({PARTIAL_SUFFIX}) has no complete record; run the recipe "
                             "again (`zoo runs clean` removes old interrupted runs).", path=str(run_dir))
    if not run_dir.is_dir():
        raise RunRecordError("no such run directory. Give a directory written by `zoo run`.", path=str(run_dir))
    path = run_dir / "record.json"
    if not path.is_file():
        raise RunRecordError("no record.json here; is it a run directory written by `zoo run`?", path=str(run_dir))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunRecordError(f"not a JSON run record ({exc}).", path=str(path)) from None
    return RunRecord.from_dict(data, path=str(path))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def stale_partials(output_dir: str | Path) -> list[Path]:
    """``.partial`` run directories under ``output_dir`` whose run is dead: its ``owner.json``
    names a process on this host that no longer exists (a directory without a readable owner, or
    owned by another host, is left alone)."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.iterdir()):
        if not (path.is_dir() and not path.is_symlink() and path.name.endswith(PARTIAL_SUFFIX)):
            continue
        try:
            owner = json.loads((path / OWNER_FILE).read_text(encoding="utf-8"))
            host, pid = owner["host"], int(owner["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if host == platform.node() and not _alive(pid):
            found.append(path)
    return found


def latest_run(output_dir: str | Path, *, name: str | None = None) -> Path:
    """The newest finished run directory directly under ``output_dir`` (by ``finished_at`` in its record).

    Only finished runs count: a directory with a readable ``record.json`` that is not interrupted
    (``.partial``) or pruned. With ``name``, only runs of the recipe of that name.

    Raises:
        RunRecordError: ``output_dir`` is not a folder, or holds no finished run (of that name).
    """
    from ..errors import RunRecordError

    root = Path(output_dir)
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise RunRecordError(f"{what}; give the folder your runs are written to (a recipe's output_dir, "
                             "or `zoo run -o DIR`).", path=str(root))
    found: list[tuple[str, str, Path]] = []
    for path in root.iterdir():
        if not path.is_dir() or path.name.endswith((PARTIAL_SUFFIX, ".pruned")):
            continue
        try:
            data = json.loads((path / "record.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(data, dict) or (name is not None and data.get("name") != name):
            continue
        found.append((str(data.get("finished_at") or ""), path.name, path))
    if not found:
        which = f" of recipe {name!r}" if name is not None else ""
        raise RunRecordError(f"no finished run{which} here; run a recipe first (`zoo run RECIPE`), or name the "
                             "folder its runs went to.", path=str(root))
    return max(found)[2]
