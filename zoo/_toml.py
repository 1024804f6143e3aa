"""TOML reading (stdlib ``tomllib``, or ``tomli`` before Python 3.11) and writing (``tomli-w``).

Every TOML file zoo writes goes through :func:`dumps`; :func:`inline` writes one value as it
would appear after ``key =`` (for snippets and messages), :func:`key` one bare or quoted key.
"""

from __future__ import annotations

import sys
from typing import Any, Mapping

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["tomllib", "TOMLDecodeError", "dumps", "inline", "key"]

TOMLDecodeError = tomllib.TOMLDecodeError


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
