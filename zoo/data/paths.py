"""Resolve the file paths named in loader options and record them as :class:`SourceFile`.

Relative paths are taken relative to ``base_dir`` (the recipe's directory). A missing file
raises :class:`~zoo.errors.DatasetFileNotFoundError` naming the option, the path tried, the
closest file names in that folder, and what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DatasetFileNotFoundError, did_you_mean
from .dataset import SourceFile
from .hashing import sha256_file

__all__ = ["resolve_file", "source_file"]


def resolve_file(value: str | os.PathLike[str], *, key: str, base_dir: Path, loader: str) -> Path:
    """Return the existing file that option ``key`` names, relative to ``base_dir`` if relative.

    Raises:
        DatasetFileNotFoundError: if there is no file at the resolved path.
    """
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    if path.is_file():
        return path
    message = _missing_message(path, key=key, value=value, base_dir=Path(base_dir), loader=loader)
    raise DatasetFileNotFoundError(message, key=key, path=str(path))


def _missing_message(path: Path, *, key: str, value: str | os.PathLike[str], base_dir: Path, loader: str) -> str:
    what = "is a directory, not a file" if path.is_dir() else "does not exist"
    hint = ""
    if path.parent.is_dir():
        hint = did_you_mean(path.name, [p.name for p in path.parent.iterdir() if p.is_file()])
    else:
        hint = f" (the folder {path.parent} does not exist either)"
    relative = ""
    if not Path(value).expanduser().is_absolute():
        relative = f" (relative paths are resolved against the recipe directory {base_dir})"
    return (
        f"dataset loader {loader!r}, option {key!r}: the file {path} {what}{relative}.{hint} "
        f"Fix the path in the recipe's dataset options."
    )


def source_file(path: Path, *, role: str) -> SourceFile:
    """Hash ``path`` and record it as the :class:`SourceFile` of ``role``."""
    return SourceFile(role=role, path=str(path.resolve()), sha256=sha256_file(path), size=path.stat().st_size)
