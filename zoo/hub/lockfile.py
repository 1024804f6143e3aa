"""The trust-on-first-use lock file.

For registry entries marked ``integrity = "tofu"``, the sha256 of each file is
recorded here on first download; later downloads must match. The file is TOML,
meant to be committed next to a project::

    version = 1
    [files."org/name@<commit>"]
    "model.safetensors" = "<sha256>"
"""

from __future__ import annotations

from pathlib import Path

from .._atomic import write_text_atomic
from .._toml import TOMLDecodeError, dumps, tomllib
from ..errors import ConfigError

__all__ = ["LockFile"]

_VERSION = 1


class LockFile:
    """Read, query and atomically update a lock file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._files: dict[str, dict[str, str]] = {}
        if self.path.is_file():
            try:
                data = tomllib.loads(self.path.read_text(encoding="utf-8"))
            except (TOMLDecodeError, UnicodeDecodeError) as exc:  # not UTF-8 text, or not TOML
                raise ConfigError(f"{self.path}: lock file is not valid TOML ({exc}). Fix or delete it.") from exc
            if data.get("version") != _VERSION or not isinstance(data.get("files", {}), dict):
                raise ConfigError(f"{self.path}: not a zoo lock file of version {_VERSION}. Delete it to start afresh.")
            self._files = {k: dict(v) for k, v in data.get("files", {}).items()}

    @staticmethod
    def key(repo_id: str, revision: str) -> str:
        return f"{repo_id}@{revision}"

    def get(self, repo_id: str, revision: str, filename: str) -> str | None:
        return self._files.get(self.key(repo_id, revision), {}).get(filename)

    def record(self, repo_id: str, revision: str, hashes: dict[str, str]) -> None:
        """Add hashes (never replacing a different one) and write the file atomically."""
        files = self._files.setdefault(self.key(repo_id, revision), {})
        for name, sha in hashes.items():
            if files.get(name, sha) != sha:
                raise ConfigError(f"{self.path}: refusing to replace the recorded hash of {name}.")
            files[name] = sha
        write_text_atomic(self.path, dumps({"version": _VERSION, "files": self._files}))
