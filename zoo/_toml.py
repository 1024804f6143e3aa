"""TOML reading (stdlib ``tomllib``, or ``tomli`` before Python 3.11) and a small writer."""

from __future__ import annotations

import json
import sys
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["tomllib", "TOMLDecodeError", "dumps"]

TOMLDecodeError = tomllib.TOMLDecodeError


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
