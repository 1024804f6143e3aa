"""The trust-on-first-use lock file.

For registry entries marked ``integrity = "tofu"``, the sha256 of each file is
recorded here on first download; later downloads must match. The file is TOML,
meant to be committed next to a project::

    version = 1
    [files."org/name@<commit>"]
    "model.safetensors" = "<sha256>"

Every update happens under an exclusive file lock (the empty ``.<name>.lock`` beside it; leave
it out of version control) and re-reads the file first, so concurrent ``zoo pull`` and
``zoo hub import`` runs lose nothing; the new text is parsed back before it atomically replaces
the old, so a broken lock file is never written.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from .._atomic import write_text_atomic
from .._paths import repo_name_problem
from .._toml import TOMLDecodeError, dumps, load_toml_file, tomllib
from ..errors import ConfigError, StorageError

__all__ = ["LockFile", "LOCK_TIMEOUT_S"]

_VERSION = 1
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*@[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: How long an update waits for another process that is updating the same lock file.
LOCK_TIMEOUT_S = 60.0


def _name_error(path: Path, key: str, name: object) -> ConfigError | None:
    problem = repo_name_problem(name)
    if problem is None:
        return None
    return ConfigError(f"{path}: in [files.{key!r}], file name {name!r} {problem}. Delete that line.")


def _sha_error(path: Path, key: str, name: str, sha: object) -> ConfigError | None:
    if isinstance(sha, str) and _SHA256.match(sha):
        return None
    return ConfigError(
        f"{path}: in [files.{key!r}], {name!r} = {sha!r} is not a sha256 (64 lowercase hex digits). Put the "
        f"hash of a trusted copy (`sha256sum FILE`), or delete the line to record it again on the next download."
    )


def _validate(data: Mapping[str, Any], path: Path) -> dict[str, dict[str, str]]:
    if data.get("version") != _VERSION or set(data) - {"version", "files"}:
        raise ConfigError(f"{path}: not a zoo lock file of version {_VERSION} (it has keys {sorted(data)}). "
                          f"Restore it from version control, or delete it to start afresh.")
    files = data.get("files", {})
    if not isinstance(files, dict):
        raise ConfigError(f"{path}: key 'files' is {type(files).__name__} {files!r}, not a table. "
                          f"Restore the file from version control, or delete it to start afresh.")
    out: dict[str, dict[str, str]] = {}
    for key, table in files.items():
        if not _KEY.match(key):
            raise ConfigError(f"{path}: table [files.{key!r}] is not named 'org/name@<40-hex commit>'. "
                              f"Fix the name or delete the table.")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [files.{key!r}] is {type(table).__name__} {table!r}, not a table of "
                              f"file names and sha256 hashes. Delete it.")
        for name, sha in table.items():
            err = _name_error(path, key, name) or _sha_error(path, key, name, sha)
            if err is not None:
                raise err
        out[key] = dict(table)
    return out


def _read(path: Path) -> dict[str, dict[str, str]]:
    if path.is_dir():
        raise ConfigError(f"{path}: the lock file path is a directory. Point ZOO_LOCKFILE at a file "
                          f"(e.g. {path / 'zoo.lock.toml'}), or remove the directory.")
    if not path.exists():
        return {}  # nothing recorded yet (a parent that is not a folder is reported when writing)
    data = load_toml_file(path, lambda problem: ConfigError(
        f"{path}: the lock file {problem}. Restore it from version control, or delete it (trust-on-first-use "
        f"hashes are then recorded afresh)."))
    return _validate(data, path)


class LockFile:
    """Read, query and atomically update a lock file.

    Raises (constructor):
        ConfigError: the file cannot be read, is not UTF-8, not TOML, not a lock file, or has a
            bad name or hash; or the path is a directory.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._files: dict[str, dict[str, str]] = _read(self.path)

    @staticmethod
    def key(repo_id: str, revision: str) -> str:
        return f"{repo_id}@{revision}"

    def get(self, repo_id: str, revision: str, filename: str) -> str | None:
        return self._files.get(self.key(repo_id, revision), {}).get(filename)

    def record(self, repo_id: str, revision: str, hashes: Mapping[str, str]) -> None:
        """Add hashes (never replacing a different one) and write the file atomically.

        Raises:
            ConfigError: a bad repo id, revision, file name or hash (nothing is written), or a
                different hash is already recorded.
            StorageError: the lock file cannot be written.
        """
        key = self.key(repo_id, revision)
        if not _KEY.match(key):
            raise ConfigError(f"{self.path}: cannot record hashes for {key!r}: not 'org/name@<40-hex commit>'.")
        for name, sha in hashes.items():
            err = _name_error(self.path, key, name) or _sha_error(self.path, key, name, sha)
            if err is not None:
                raise err
        with self._exclusive():
            files = _read(self.path)  # what other processes recorded since we read it
            table = files.setdefault(key, {})
            for name, sha in hashes.items():
                if table.get(name, sha) != sha:
                    raise ConfigError(f"{self.path}: refusing to replace the recorded hash of {name} "
                                      f"({table[name]}) with {sha}.")
                table[name] = sha
            self._write(files)
            self._files = files

    # internals ------------------------------------------------------------------------------

    def _storage_error(self, exc: OSError, what: str) -> StorageError:
        return StorageError(f"cannot {what} the lock file {self.path}: {exc.strerror or exc}. Make "
                            f"{self.path.parent} a writable directory, or point ZOO_LOCKFILE at a writable file.",
                            path=str(self.path))

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        from filelock import FileLock, Timeout

        guard = FileLock(self.path.with_name(f".{self.path.name}.lock"), timeout=LOCK_TIMEOUT_S)
        try:
            guard.acquire()
        except Timeout:
            raise StorageError(f"another process has held {guard.lock_file} for {LOCK_TIMEOUT_S:.0f} s; wait for "
                               f"it (another `zoo pull` or `zoo hub import`?) and try again.",
                               path=str(self.path)) from None
        except OSError as exc:
            raise self._storage_error(exc, "lock") from None
        try:
            yield
        finally:
            guard.release()

    def _write(self, files: dict[str, dict[str, str]]) -> None:
        text = dumps({"version": _VERSION, "files": files})
        try:
            back = _validate(tomllib.loads(text), self.path)
        except (TOMLDecodeError, ConfigError) as exc:
            back = exc
        if back != files:
            raise ConfigError(f"{self.path}: the updated lock file would not read back as written ({back}); it "
                              f"was not written and still holds the previous hashes. Please report this.")
        try:
            write_text_atomic(self.path, text)
        except OSError as exc:
            raise self._storage_error(exc, "write") from None
