"""File names taken from registries, lock files and the command line: relative, inside, plain.

A Hub repo's file name (``model.safetensors``, ``1_Pooling/config.json``) is joined to a snapshot
folder before anything is read or written, so it must not be able to leave that folder: no
absolute name, no ``..``, no backslash (a separator on Windows), no control character, and
nothing that is not valid UTF-8 (such a name cannot be written to the TOML lock file).
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

__all__ = ["repo_name_problem", "inside"]

_DRIVE = re.compile(r"^[A-Za-z]:")
_MAX_PART_BYTES = os.pathconf("/", "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
# control characters, invisible format characters (bidi overrides), line/paragraph separators
_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def repo_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a file of a Hub repo snapshot, or None when it can.

    The answer completes a sentence: ``f"file name {name!r} {problem}"``.
    """
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not a string"
    if not name:
        return "is empty"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 (rename the file)"
    bad = next((c for c in name if unicodedata.category(c) in _BAD_CATEGORIES), None)
    if bad is not None:
        return f"contains the control character U+{ord(bad):04X}"
    if "\\" in name:
        return "contains a backslash; use '/' between folders"
    if name.startswith("/") or _DRIVE.match(name):
        return "is absolute; name files relative to the repo root (e.g. '1_Pooling/config.json')"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "has an empty, '.' or '..' part; name files relative to the repo root without them"
    if any(len(p.encode("utf-8")) > _MAX_PART_BYTES for p in parts):
        return f"has a part longer than {_MAX_PART_BYTES} bytes"
    return None


def inside(path: Path, root: Path) -> bool:
    """True when ``path``, with every symlink resolved, lies in ``root`` (also resolved)."""
    try:
        return Path(path).resolve().is_relative_to(Path(root).resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False
