"""File hashes: sha256 for integrity, git-blob sha1 for the Hub cache's blob names."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .._hashing import CHUNK_SIZE as CHUNK
from .._hashing import sha256_file

__all__ = ["sha256_file", "git_blob_sha1", "CHUNK"]


def git_blob_sha1(path: str | Path) -> str:
    """The git object id of a file (what the Hub uses as ETag of non-LFS files)."""
    p = Path(path)
    h = hashlib.sha1(b"blob %d\0" % p.stat().st_size)
    with open(p, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()
