"""Re-hash cached files against the registry and the lock file (``zoo verify``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

from ..registry.entry import BackboneEntry
from .hashing import sha256_file
from .lockfile import LockFile
from .resolve import cached_files

__all__ = ["FileCheck", "verify_cached"]

Status = Literal["ok", "mismatch", "missing", "unpinned"]


@dataclass(frozen=True)
class FileCheck:
    backbone: str
    filename: str
    status: Status
    expected: str | None
    actual: str | None
    path: str | None


def verify_cached(entries: Iterable[BackboneEntry], *, cache_dir: Path, lock: LockFile) -> list[FileCheck]:
    """One :class:`FileCheck` per file of each entry. Opens no network socket; changes nothing."""
    out = []
    for entry in entries:
        for name, path in cached_files(entry, cache_dir=cache_dir).items():
            expected = entry.file(name).sha256 or lock.get(entry.repo_id, entry.revision, name)
            if path is None:
                out.append(FileCheck(entry.name, name, "missing", expected, None, None))
                continue
            actual = sha256_file(path)
            status: Status = "unpinned" if expected is None else ("ok" if actual == expected else "mismatch")
            out.append(FileCheck(entry.name, name, status, expected, actual, str(path)))
    return out
