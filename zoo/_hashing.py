"""The one streamed sha256 of a file that every part of zoo uses."""

from __future__ import annotations

import hashlib
import os

__all__ = ["CHUNK_SIZE", "sha256_file"]

CHUNK_SIZE = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            h.update(chunk)
    return h.hexdigest()
