"""Resolve a registry entry to verified local files through ``huggingface_hub``.

Files are looked up in the standard Hub cache first (``hf_hub_download`` with
``local_files_only=True``: no network). Whatever is missing is downloaded with
``snapshot_download(allow_patterns=...)`` at the pinned commit, unless offline
mode is on. Every file is then checked against its sha256 (from the registry or,
for trust-on-first-use entries, the lock file) before anything loads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from .._paths import inside
from ..config import Settings, configure_huggingface_hub, settings as _settings
from ..errors import HubError, IntegrityError, OfflineCacheMissError, StorageError
from ..registry.entry import BackboneEntry
from .hashing import sha256_file
from .importer import repo_cache_dir
from .lockfile import LockFile

__all__ = ["ResolvedBackbone", "resolve", "cached_files", "verify_file", "evict"]


@dataclass(frozen=True)
class ResolvedBackbone:
    """Local, verified files of one entry at its pinned commit."""

    entry: BackboneEntry
    snapshot_dir: Path
    files: Mapping[str, Path]
    sha256: Mapping[str, str]
    downloaded: tuple[str, ...] = ()
    recorded: tuple[str, ...] = field(default=())  # hashes newly written to the lock file

    @property
    def repo_id(self) -> str:
        return self.entry.repo_id

    @property
    def revision(self) -> str:
        return self.entry.revision


def cached_files(entry: BackboneEntry, *, cache_dir: Path, settings: Settings | None = None) -> dict[str, Path | None]:
    """Each file's path in the Hub cache at the pinned commit, or None. Opens no socket."""
    configure_huggingface_hub(settings)
    import huggingface_hub.constants as hf_constants
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    out: dict[str, Path | None] = {}
    # a local look-up: huggingface_hub must not even resolve a hostname (it does unless offline)
    previous, hf_constants.HF_HUB_OFFLINE = hf_constants.HF_HUB_OFFLINE, True
    try:
        for spec in entry.files:
            try:
                out[spec.filename] = Path(
                    hf_hub_download(entry.repo_id, spec.filename, revision=entry.revision,
                                    cache_dir=str(cache_dir), local_files_only=True)
                )
            except LocalEntryNotFoundError:
                out[spec.filename] = None
    finally:
        hf_constants.HF_HUB_OFFLINE = previous
    return out


def evict(path: Path, *, cache_dir: Path, repo_id: str) -> bool:
    """Remove a cached file: its snapshot link, and the blob it points to when that is in the cache.

    Nothing outside the repo's cache folder is ever removed: a link pointing elsewhere is
    removed without its target. Returns False when nothing was removed (``path`` is not
    inside the repo's snapshots).
    """
    repo_dir = repo_cache_dir(cache_dir, repo_id)
    if not (inside(path.parent, repo_dir / "snapshots") and inside(repo_dir / "snapshots", repo_dir)):
        return False
    if not path.is_symlink():
        path.unlink(missing_ok=True)
        return True
    blob = Path(os.path.normpath(path.parent / os.readlink(path)))  # the link's own target, not followed further
    path.unlink(missing_ok=True)
    blobs = repo_dir / "blobs"
    if blobs.is_dir() and not blobs.is_symlink() and blob.parent.resolve() == blobs.resolve():
        blob.unlink(missing_ok=True)
    return True


def verify_file(entry: BackboneEntry, filename: str, path: Path, *, lock: LockFile,
                cache_dir: Path | None = None) -> tuple[str, bool]:
    """Check ``path`` against the registry hash or the lock file.

    Returns ``(sha256, newly_trusted)``; ``newly_trusted`` is True for a
    trust-on-first-use file seen for the first time (the caller records it).

    Raises:
        IntegrityError: the hash differs (the cached copy is evicted first).
    """
    actual = sha256_file(path)
    expected = entry.file(filename).sha256 or lock.get(entry.repo_id, entry.revision, filename)
    if expected is None:
        return actual, True
    if actual != expected:
        removed = evict(path, cache_dir=_settings().hf_cache if cache_dir is None else cache_dir,
                        repo_id=entry.repo_id)
        action = "" if removed else (f"The file was not loaded; it lies outside the Hub cache's snapshots and was "
                                     f"not removed. Replace it with a trusted copy (`zoo hub import`).")
        raise IntegrityError(path=str(path), filename=filename, expected=expected, actual=actual,
                             repo_id=entry.repo_id, revision=entry.revision, action=action)
    return actual, False


def _download(entry: BackboneEntry, missing: list[str], s: Settings) -> None:
    configure_huggingface_hub(s)
    from huggingface_hub import snapshot_download
    from huggingface_hub import errors as hf_errors

    try:
        snapshot_download(
            entry.repo_id, revision=entry.revision, allow_patterns=missing, cache_dir=str(s.hf_cache),
            endpoint=s.hf_endpoint,
        )
    except hf_errors.RepositoryNotFoundError as exc:
        raise HubError(f"{s.hf_endpoint} has no repo {entry.repo_id!r} (entry {entry.name!r}, "
                       f"from {entry.source}). Check repo_id, or log in if it is gated.") from exc
    except hf_errors.RevisionNotFoundError as exc:
        raise HubError(f"{entry.repo_id} has no commit {entry.revision} (entry {entry.name!r}). "
                       f"Was the history rewritten? Pin an existing commit in {entry.source}.") from exc
    except hf_errors.LocalEntryNotFoundError as exc:
        raise HubError(f"could not reach {s.hf_endpoint} to download {entry.repo_id}@{entry.revision[:12]} "
                       f"({', '.join(missing)}): {exc}. Check the network or HF_ENDPOINT, or work offline with "
                       f"`zoo hub import`.") from exc
    except OSError as exc:  # the cache cannot be written
        raise StorageError(f"cannot write to the Hub cache {s.hf_cache}: {exc.strerror or exc}"
                           f"{f' ({exc.filename})' if exc.filename else ''}. Make it writable, or point HF_HUB_CACHE "
                           f"(or HF_HOME) at a writable directory.", path=str(exc.filename or s.hf_cache)) from exc


def resolve(entry: BackboneEntry, *, offline: bool | None = None, settings: Settings | None = None) -> ResolvedBackbone:
    """Make every file of ``entry`` available locally and verify it.

    Raises:
        OfflineCacheMissError: offline and a file is not cached.
        IntegrityError: a file's sha256 differs from the registry or lock file.
        HubError: the Hub could not provide a file.
    """
    s = settings or _settings()
    offline = s.offline if offline is None else offline
    s = replace(s, offline=offline)
    found = cached_files(entry, cache_dir=s.hf_cache, settings=s)
    missing = [name for name, p in found.items() if p is None]
    if missing:
        if offline:
            raise OfflineCacheMissError(name=entry.name, repo_id=entry.repo_id, revision=entry.revision,
                                        missing=missing, cache_dir=str(s.hf_cache))
        _download(entry, missing, s)
        found = cached_files(entry, cache_dir=s.hf_cache, settings=s)
        still = [name for name, p in found.items() if p is None]
        if still:
            raise HubError(f"{entry.repo_id}@{entry.revision[:12]} does not contain {', '.join(still)} "
                           f"(entry {entry.name!r} in {entry.source}). Fix the entry's file list.")
    lock = LockFile(s.lockfile)
    hashes, new = {}, {}
    for name, path in found.items():
        assert path is not None
        sha, first = verify_file(entry, name, path, lock=lock, cache_dir=s.hf_cache)
        hashes[name] = sha
        if first:
            new[name] = sha
    if new:
        lock.record(entry.repo_id, entry.revision, new)
    files = {name: p for name, p in found.items() if p is not None}
    snapshot = repo_cache_dir(s.hf_cache, entry.repo_id) / "snapshots" / entry.revision
    return ResolvedBackbone(entry=entry, snapshot_dir=snapshot, files=files, sha256=hashes,
                            downloaded=tuple(missing), recorded=tuple(new))
