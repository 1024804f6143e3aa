"""Air-gapped import: place local files into the standard Hub cache.

After ``import_directory``, ``huggingface_hub`` (and so :func:`zoo.hub.resolve`)
finds the files at ``repo_id@revision`` exactly as if they had been downloaded:
``models--ORG--NAME/blobs/<etag>`` plus a relative symlink in
``snapshots/<revision>/``. Every file is checked against the registry (or the
lock file) before anything is written, so a bad directory leaves the cache as it was.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import IntegrityError, RevisionNotPinnedError, ZooError
from ..registry.entry import BackboneEntry
from .hashing import git_blob_sha1, sha256_file
from .lockfile import LockFile

__all__ = ["ImportReport", "import_directory", "repo_cache_dir"]

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".h5", ".msgpack", ".ckpt")


@dataclass(frozen=True)
class ImportReport:
    repo_id: str
    revision: str
    snapshot_dir: Path
    sha256: dict[str, str]
    checked_against: str  # "registry entry NAME", "lock file", or "recorded in lock file"


def repo_cache_dir(cache_dir: Path, repo_id: str) -> Path:
    return Path(cache_dir) / f"models--{repo_id.replace('/', '--')}"


def _etag(path: Path, sha256: str) -> str:
    big = path.suffix in _LFS_SUFFIXES or path.stat().st_size >= 10 * 1024 * 1024
    return sha256 if big else git_blob_sha1(path)


def _place(src: Path, repo_dir: Path, revision: str, filename: str, etag: str) -> None:
    blob = repo_dir / "blobs" / etag
    blob.parent.mkdir(parents=True, exist_ok=True)
    if not blob.exists():
        fd, tmp = tempfile.mkstemp(dir=blob.parent, prefix=f".{etag}.", suffix=".incomplete")
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, blob)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    link = repo_dir / "snapshots" / revision / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp_link = link.with_name(f".{link.name}.tmp-link")
    tmp_link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(blob, link.parent), tmp_link)
    os.replace(tmp_link, link)


def import_directory(
    src: str | os.PathLike[str],
    *,
    repo_id: str,
    revision: str,
    cache_dir: Path,
    lock: LockFile,
    entry: BackboneEntry | None = None,
    files: Sequence[str] | None = None,
) -> ImportReport:
    """Copy ``files`` (default: the entry's files, or every file under ``src``) into the cache.

    Raises:
        RevisionNotPinnedError: ``revision`` is not a full commit id.
        FileNotFoundError / ZooError: a file is missing from ``src``.
        IntegrityError: a file's sha256 differs from the registry or lock file.
    """
    src = Path(src)
    if not _COMMIT.match(revision):
        raise RevisionNotPinnedError(
            f"--revision {revision!r} is not a full 40-hex commit id; the cache is keyed by commit. "
            f"Use the commit the files were taken from (the registry entry's `revision`)."
        )
    if not src.is_dir():
        raise ZooError(f"{src} is not a directory. Point `zoo hub import` at the folder holding the repo's files.")
    if files is None:
        files = ([f.filename for f in entry.files] if entry is not None else
                 sorted(p.relative_to(src).as_posix() for p in src.rglob("*")
                        if p.is_file() and ".git" not in p.relative_to(src).parts))
    missing = [f for f in files if not (src / f).is_file()]
    if missing:
        raise ZooError(f"{src} lacks {', '.join(missing)}, needed for {repo_id}@{revision[:12]}. "
                       f"Copy the complete snapshot of the repo at that commit.")
    pinned = {f.filename: f.sha256 for f in entry.files if f.sha256} if entry is not None else {}

    def expected(name: str) -> str | None:
        return pinned.get(name) or lock.get(repo_id, revision, name)

    hashes: dict[str, str] = {}
    for name in files:  # verify everything before writing anything
        actual = sha256_file(src / name)
        want = expected(name)
        if want is not None and want != actual:
            raise IntegrityError(path=str(src / name), filename=name, expected=want, actual=actual,
                                 repo_id=repo_id, revision=revision,
                                 action="Nothing was imported; import a trusted copy of the repo's files.")
        hashes[name] = actual
    repo_dir = repo_cache_dir(cache_dir, repo_id)
    for name in files:
        _place(src / name, repo_dir, revision, name, _etag(src / name, hashes[name]))
    unpinned = {n: h for n, h in hashes.items() if expected(n) is None}
    if unpinned:
        lock.record(repo_id, revision, unpinned)
    how = f"registry entry {entry.name!r}" if entry else "lock file"
    return ImportReport(repo_id=repo_id, revision=revision, snapshot_dir=repo_dir / "snapshots" / revision,
                        sha256=hashes, checked_against=how + (" (new hashes recorded)" if unpinned else ""))
