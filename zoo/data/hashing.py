"""Content hashes for dataset files and the fingerprint that names a loaded dataset.

Files are hashed with sha256 in 1 MiB chunks. The result is memoized in-process, keyed by
(resolved path, size, mtime_ns), so loading the same dataset twice reads each file once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

__all__ = ["CHUNK_SIZE", "FINGERPRINT_VERSION", "sha256_file", "canonical_json", "fingerprint", "clear_hash_cache"]

from .._hashing import CHUNK_SIZE
from .._hashing import sha256_file as _sha256_file

FINGERPRINT_VERSION = "zoo.data/2"

_cache: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of the file at ``path``, memoized by (path, size, mtime_ns)."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_size, stat.st_mtime_ns)
    digest = _cache.get(key)
    if digest is None:
        digest = _cache[key] = _sha256_file(resolved)
    return digest


def clear_hash_cache() -> None:
    """Forget every memoized file hash (tests use this)."""
    _cache.clear()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def canonical_json(value: Any) -> str:
    """Serialize ``value`` (dataclasses, mappings, sequences, paths, scalars) as canonical JSON.

    Keys are sorted, separators are compact, and non-ASCII text is kept as is, so equal values
    always give byte-identical strings.
    """
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(payload: Any) -> str:
    """Return the hex sha256 of the canonical JSON of ``payload``, tagged with the format version."""
    text = canonical_json({"version": FINGERPRINT_VERSION, "payload": payload})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
