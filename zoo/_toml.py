"""TOML reading (``tomli``, the compiled build of the code that became the stdlib's ``tomllib``;
files and bytes with typed errors) and writing (``tomli-w``).

Every TOML file zoo writes goes through :func:`dumps`; :func:`inline` writes one value as it
would appear after ``key =`` (for snippets and messages), :func:`key` one bare or quoted key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import tomli_w

try:  # tomli's wheels are compiled (mypyc): 2-3x faster than the stdlib on a large registry
    import tomli as tomllib
except ImportError:  # pragma: no cover - tomli is a dependency; the stdlib parser is the same code
    import tomllib

__all__ = ["tomllib", "TOMLDecodeError", "dumps", "inline", "key", "load_toml_file", "parse_toml_bytes",
           "read_file_bytes"]

TOMLDecodeError = tomllib.TOMLDecodeError


def read_file_bytes(path: Path, error: Callable[[str], Exception]) -> bytes:
    """The bytes of ``path``; a directory or an unreadable file raises ``error(problem)``."""
    path = Path(path)
    if path.is_dir():
        raise error("is a directory, not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(f"cannot be read ({exc.strerror or exc})") from None


def parse_toml_bytes(raw: bytes, error: Callable[[str], Exception]) -> dict[str, Any]:
    """Parse UTF-8 TOML (a leading BOM is allowed); a problem raises ``error(problem)``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"is not UTF-8 text (byte {exc.start} is {raw[exc.start]:#04x}); save it as UTF-8") from None
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except TOMLDecodeError as exc:
        raise error(f"is not valid TOML: {exc}") from None


def load_toml_file(path: Path, error: Callable[[str], Exception]) -> dict[str, Any]:
    """Read a UTF-8 TOML file (a leading BOM is allowed).

    Every problem raises ``error(problem)``, where ``problem`` completes the sentence "the file
    ...": ``"is not UTF-8 text (byte 7 is 0xff); save it as UTF-8"``, ``"is a directory, not a
    file"``, ``"is not valid TOML: Invalid value (at line 2, column 15)"``. The caller names the
    file and says what to do.
    """
    return parse_toml_bytes(read_file_bytes(path, error), error)


def _drop_none(value: Any) -> Any:
    """TOML has no null: None values (an option left at "none") are left out."""
    if isinstance(value, Mapping):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value if v is not None]
    return value


def dumps(data: Mapping[str, Any]) -> str:
    """``data`` as a TOML document (nested mappings become tables, lists of mappings arrays of
    tables); None values are left out."""
    return tomli_w.dumps(_drop_none(data))


def key(name: str) -> str:
    """A key as written in TOML: bare when it can be, quoted otherwise."""
    return tomli_w.dumps({name: 0}).rsplit(" = ", 1)[0]


def inline(value: Any) -> str:
    """One value as written after ``key = `` (mappings as inline tables)."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{key(str(k))} = {inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(inline(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).split(" = ", 1)[1].strip()
