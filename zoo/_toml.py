"""TOML reading (stdlib ``tomllib``, or ``tomli`` before Python 3.11) and a small writer."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["tomllib", "TOMLDecodeError", "dumps", "load_toml_file", "parse_toml_bytes", "read_file_bytes"]

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


def _key(k: str) -> str:
    return k if k.replace("-", "").replace("_", "").isalnum() else json.dumps(k)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dumps(data: Mapping[str, Any], _prefix: str = "") -> str:
    """Write nested mappings of str/int/float/bool/list as TOML (tables for nested mappings)."""
    scalars = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    out = "\n".join(scalars) + ("\n" if scalars else "")
    for k, v in data.items():
        if isinstance(v, Mapping):
            name = f"{_prefix}.{_key(k)}" if _prefix else _key(k)
            body = dumps(v, name)
            if any(not isinstance(x, Mapping) for x in v.values()) or not v:
                out += f"\n[{name}]\n"
            out += body
    return out
