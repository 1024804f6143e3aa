"""A cache of parsed, validated registry files, keyed by their content.

Parsing TOML and validating entries costs about 0.4 ms per entry (20 s for 50,000 on a loaded
machine); reading them back from JSON costs a small fraction of that. The cache file of a
registry file lives in ``$ZOO_HOME/registry-cache/`` (one per registry path) and is used only
when it records the sha256 of the registry file's current bytes, the same zoo version and the
same entry layout; anything else (an edit, an upgrade, a corrupt cache file) parses the file
again. The cache is an optimisation: a cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from .._atomic import write_text_atomic
from .entry import BackboneEntry, to_plain

__all__ = ["load_cached", "store_cached"]

_FORMAT = 1
Parsed = list[tuple[BackboneEntry, bool]]


def _converter(tp: Any) -> Callable[[Any], Any] | None:
    """A function turning the JSON form of a ``tp`` value back into the value; None when JSON already is it.

    The JSON was written by :func:`store_cached` from validated entries, so only the structure
    is rebuilt (a damaged file fails to decode, or to build, and is then ignored).
    """
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        nested = {f.name: c for f in dataclasses.fields(tp) if (c := _converter(hints[f.name])) is not None}

        def build(value: dict[str, Any]) -> Any:
            return tp(**{**value, **{k: c(value[k]) for k, c in nested.items() if k in value}})

        return build
    if origin is tuple:
        item = _converter(args[0])
        return tuple if item is None else (lambda value: tuple(map(item, value)))
    if origin in (typing.Union, types.UnionType):
        options = [c for a in args if a is not type(None) and (c := _converter(a)) is not None]
        if len(options) > 1:
            raise TypeError(f"cannot cache values of type {tp}")
        return (lambda value: None if value is None else options[0](value)) if options else None
    if origin is typing.Literal or tp in (str, int, float, bool, typing.Any):
        return None
    raise TypeError(f"cannot cache values of type {tp}")


@lru_cache(maxsize=1)
def _layout() -> tuple[str, Callable[[Any], BackboneEntry]]:
    """The fingerprint of the entry classes' fields (and zoo's version), and the entry converter."""
    from .. import __version__

    seen, todo, layout = set(), [BackboneEntry], []
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        hints = typing.get_type_hints(cls)
        layout.append((cls.__name__, [(f.name, repr(hints[f.name])) for f in dataclasses.fields(cls)]))
        for hint in hints.values():
            todo.extend(t for t in (hint, *_nested(hint)) if dataclasses.is_dataclass(t))
    digest = hashlib.sha256(repr((_FORMAT, __version__, sorted(layout))).encode()).hexdigest()
    build = _converter(BackboneEntry)
    assert build is not None
    return digest, build


def _nested(tp: Any) -> list[Any]:
    out = []
    for arg in typing.get_args(tp):
        out += [arg, *_nested(arg)]
    return out


def _cache_file(cache_dir: Path, source: str) -> Path:
    return Path(cache_dir) / f"{hashlib.sha256(source.encode('utf-8', 'surrogateescape')).hexdigest()[:32]}.json"


def load_cached(cache_dir: Path, source: str, content_sha256: str) -> Parsed | None:
    """The entries parsed from ``source`` when its bytes had ``content_sha256``, or None."""
    layout, entry = _layout()
    try:
        doc = json.loads(_cache_file(cache_dir, source).read_bytes())
        if doc.get("key") != [layout, source, content_sha256]:
            return None
        return [(entry(e), bool(override)) for e, override in doc["entries"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def store_cached(cache_dir: Path, source: str, content_sha256: str, parsed: Parsed) -> None:
    """Remember ``parsed`` for ``source`` with these bytes; failures are ignored (it is only a cache)."""
    layout, _ = _layout()
    doc = {"key": [layout, source, content_sha256],
           "entries": [[to_plain(e), override] for e, override in parsed]}
    try:
        write_text_atomic(_cache_file(cache_dir, source), json.dumps(doc, separators=(",", ":")))
    except (OSError, TypeError, ValueError):
        pass
