"""Air-gapped import: place local files into the standard Hub cache.

After ``import_directory``, ``huggingface_hub`` (and so :func:`zoo.hub.resolve`)
finds the files at ``repo_id@revision`` exactly as if they had been downloaded:
``models--ORG--NAME/blobs/<etag>`` plus a relative symlink in
``snapshots/<revision>/``. Every file is checked against the registry (or the
lock file) before anything is written, so a bad directory leaves the cache as it was.

An import is all-or-nothing: every file name must stay inside the snapshot (no absolute
name, ``..``, backslash or control character), no folder of the cache is written through a
symlink, and when anything fails (a full disk, a lock file that cannot be written) every file
already placed is taken back out and every replaced link restored.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .._atomic import create_temp_file
from .._paths import inside, repo_name_problem
from ..errors import HubImportError, IntegrityError, RevisionNotPinnedError, StorageError, ZooError
from ..registry.entry import BackboneEntry
from .hashing import git_blob_sha1, sha256_file
from .lockfile import LockFile

__all__ = ["ImportReport", "import_directory", "repo_cache_dir"]

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".h5", ".msgpack", ".ckpt")


@dataclass(frozen=True)
class ImportReport:
    repo_id: str
    revision: str
    snapshot_dir: Path
    sha256: dict[str, str]
    checked_against: str  # "registry entry NAME", "lock file", or "recorded in lock file"


def repo_folder_name(repo_id: str) -> str:
    """The Hub cache's folder name of a model repo: ``models--ORG--NAME``."""
    return f"models--{repo_id.replace('/', '--')}"


def repo_cache_dir(cache_dir: Path, repo_id: str) -> Path:
    return Path(cache_dir) / repo_folder_name(repo_id)


def _etag(path: Path, sha256: str) -> str:
    big = path.suffix in _LFS_SUFFIXES or path.stat().st_size >= 10 * 1024 * 1024
    return sha256 if big else git_blob_sha1(path)


class _Placement:
    """Writes into one repo's cache folder, remembering how to undo each step."""

    def __init__(self, cache_dir: Path, repo_id: str, revision: str):
        self.cache_dir = Path(cache_dir)
        self.repo_dir = repo_cache_dir(self.cache_dir, repo_id)
        self.snapshot = self.repo_dir / "snapshots" / revision
        self._undo: list[Callable[[], None]] = []

    def _mkdirs(self, folder: Path) -> None:
        """Create ``folder`` under the cache one level at a time, refusing symlinked folders."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        current = self.cache_dir
        for part in folder.relative_to(self.cache_dir).parts:
            current = current / part
            if current.is_symlink() or (current.exists() and not current.is_dir()):
                raise HubImportError(
                    f"{current} is a symlink or a file where the Hub cache needs a folder; zoo does not write "
                    f"through it. Remove it (it is not part of a normal cache) and import again."
                )
            if not current.exists():
                current.mkdir()
                self._undo.append(lambda p=current: p.rmdir() if not any(p.iterdir()) else None)

    def place(self, src: Path, filename: str, etag: str) -> None:
        blobs = self.repo_dir / "blobs"
        link = self.snapshot / filename
        self._mkdirs(blobs)
        self._mkdirs(link.parent)
        if not (inside(link.parent, self.snapshot) and inside(self.snapshot, self.repo_dir)
                and inside(blobs, self.repo_dir)):
            raise HubImportError(f"{link} would not lie inside the snapshot {self.snapshot}; nothing was imported.")
        blob = blobs / etag
        if blob.is_symlink() or not blob.is_file():
            fd, tmp = create_temp_file(blobs, prefix=f".{etag}.", suffix=".incomplete")
            try:
                with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                    shutil.copyfileobj(inp, out)
                created = not os.path.lexists(blob)
                os.replace(tmp, blob)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            if created:
                self._undo.append(lambda: blob.unlink(missing_ok=True))
        previous = os.readlink(link) if link.is_symlink() else None
        if os.path.lexists(link) and previous is None:
            raise HubImportError(f"{link} exists and is not a symlink into the cache's blobs; remove it and "
                                 f"import again.")
        self._link(link, os.path.relpath(blob, link.parent))
        self._undo.append(lambda: self._link(link, previous) if previous else link.unlink(missing_ok=True))

    @staticmethod
    def _link(link: Path, target: str) -> None:
        tmp_link = link.with_name(f".{link.name}.tmp-link")
        tmp_link.unlink(missing_ok=True)
        os.symlink(target, tmp_link)
        os.replace(tmp_link, link)

    def roll_back(self) -> None:
        for undo in reversed(self._undo):
            try:
                undo()
            except OSError:
                pass
        self._undo.clear()


def _check_inputs(src: Path, repo_id: str, revision: str, files: Sequence[str]) -> None:
    if not _COMMIT.match(revision):
        raise RevisionNotPinnedError(
            f"--revision {revision!r} is not a full 40-hex commit id; the cache is keyed by commit. "
            f"Use the commit the files were taken from (the registry entry's `revision`)."
        )
    if not _REPO.match(repo_id):
        raise HubImportError(f"--repo {repo_id!r} is not a Hub repo id of the form 'org/name'.")
    for name in files:
        problem = repo_name_problem(name)
        if problem is not None:
            raise HubImportError(f"file name {name!r} {problem}. Nothing was imported.")
    missing = [f for f in files if not (src / f).is_file()]
    if missing:
        raise HubImportError(f"{src} lacks {', '.join(missing)}, needed for {repo_id}@{revision[:12]}. "
                             f"Copy the complete snapshot of the repo at that commit.")


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

    All or nothing: when any step fails, the cache is left as it was.

    Raises:
        RevisionNotPinnedError: ``revision`` is not a full commit id.
        HubImportError: ``src`` is not a folder or lacks a file; a repo id or file name is unsafe.
        IntegrityError: a file's sha256 differs from the registry or lock file.
        StorageError: the cache or the lock file cannot be written.
    """
    src = Path(src)
    if not src.is_dir():
        raise HubImportError(f"{src} is not a directory. Point `zoo hub import` at the folder holding the repo's files.")
    if files is None:
        files = ([f.filename for f in entry.files] if entry is not None else
                 sorted(p.relative_to(src).as_posix() for p in src.rglob("*")
                        if p.is_file() and ".git" not in p.relative_to(src).parts))
    _check_inputs(src, repo_id, revision, files)
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
    placement = _Placement(cache_dir, repo_id, revision)
    unpinned = {n: h for n, h in hashes.items() if expected(n) is None}
    try:
        for name in files:
            placement.place(src / name, name, _etag(src / name, hashes[name]))
        if unpinned:
            lock.record(repo_id, revision, unpinned)
    except OSError as exc:
        placement.roll_back()
        if isinstance(exc, ZooError):
            raise
        raise StorageError(f"cannot write to the Hub cache {cache_dir}: {exc.strerror or exc}"
                           f"{f' ({exc.filename})' if exc.filename else ''}. Make it writable, or point HF_HUB_CACHE "
                           f"(or HF_HOME) at a writable directory. Nothing was imported.",
                           path=str(exc.filename or cache_dir)) from None
    except BaseException:
        placement.roll_back()
        raise
    how = f"registry entry {entry.name!r}" if entry else "lock file"
    return ImportReport(repo_id=repo_id, revision=revision, snapshot_dir=placement.snapshot,
                        sha256=hashes, checked_against=how + (" (new hashes recorded)" if unpinned else ""))
