"""Content hashes for dataset files and the fingerprint that names a loaded dataset.

Files are hashed with zoo's one streamed sha256 (:func:`zoo._hashing.sha256_file`), every time:
no memo keyed by modification time, which would hide an edit that keeps size and mtime.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

__all__ = ["CHUNK_SIZE", "FINGERPRINT_VERSION", "sha256_file", "canonical_json", "fingerprint"]

from .._hashing import CHUNK_SIZE, sha256_file

FINGERPRINT_VERSION = "zoo.data/2"

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
