"""Assemble the registry from its layers: built-in file, user files, plugin entries.

Layers, in order: the built-in ``registry.toml`` shipped with zoo; the files named
in the config file's ``registry = [...]`` and in ``ZOO_REGISTRY`` (``os.pathsep``
separated); then entries contributed by plugins through ``register_backbones``.
A name defined by two layers is an error (:class:`RegistryCollisionError`) unless
the later entry sets ``override = true``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Mapping

from ..config import Settings, settings as _settings
from ..errors import RegistryCollisionError, RegistryValidationError
from .._toml import parse_toml_bytes, read_file_bytes
from .cache import load_cached, store_cached
from .entry import BackboneEntry
from .parse import parse_entry, parse_registry

__all__ = ["Registry", "builtin_registry_path", "load_registry_file", "build_registry"]


def builtin_registry_path() -> Path:
    """The ``registry.toml`` that ships inside the package (the repo's top-level file)."""
    return Path(str(resources.files("zoo") / "registry.toml"))


def load_registry_file(path: Path, *, cache_dir: Path | None = None) -> list[tuple[BackboneEntry, bool]]:
    """Parse and validate one registry file; returns ``(entry, override)`` pairs in file order.

    With ``cache_dir``, the parsed entries are kept there keyed by the file's sha256 and read
    back from the cache while the file's bytes stay the same (see :mod:`zoo.registry.cache`).
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise RegistryValidationError(
            "registry file not found. Fix the path in ZOO_REGISTRY or in the config file's `registry` list.",
            source=source,
        )

    def error(problem: str) -> RegistryValidationError:
        return RegistryValidationError(f"the registry file {problem}. Fix it, or take it out of ZOO_REGISTRY "
                                       f"or the config file's `registry` list.", source=source)

    raw = read_file_bytes(path, error)
    digest = hashlib.sha256(raw).hexdigest()
    if cache_dir is not None and (cached := load_cached(cache_dir, source, digest)) is not None:
        return cached
    parsed = parse_registry(parse_toml_bytes(raw, error), source=source)
    if cache_dir is not None:
        store_cached(cache_dir, source, digest, parsed)
    return parsed


@dataclass(frozen=True)
class Registry:
    """An immutable, ordered mapping of backbone names to entries."""

    entries: Mapping[str, BackboneEntry]
    layers: tuple[str, ...]

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self):
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return list(self.entries)


def build_registry(
    *,
    settings: Settings | None = None,
    include_builtin: bool | None = None,
    plugin_tables: Iterable[tuple[str, Mapping]] | Callable[[], Iterable[tuple[str, Mapping]]] | None = None,
    on_plugin_error: Callable[[str, Exception], None] | None = None,
) -> Registry:
    """Read every layer and merge them, reporting collisions.

    The built-in ``registry.toml`` is the first layer unless ``include_builtin`` is false (default:
    the config file's ``builtin_registry``, true when it is not set).
    ``plugin_tables`` yields ``(plugin_name, raw_table)`` where the raw table
    carries a ``name`` key plus the usual entry keys. With ``on_plugin_error``, a plugin entry
    that does not validate or collides is left out and passed to it as ``(plugin, error)``
    (the CLI records it as that plugin's failure), so one plugin cannot break the registry.
    """
    s = settings or _settings()
    merged: dict[str, BackboneEntry] = {}
    layers: list[str] = []

    def add(entry: BackboneEntry, override: bool) -> None:
        old = merged.get(entry.name)
        if old is not None and not override:
            raise RegistryCollisionError(entry.name, old.source, entry.source)
        if (old is not None and old.integrity == "verified" and entry.source.startswith("plugin:")
                and entry.name not in s.allow_plugin_override):
            raise RegistryValidationError(
                f"`override = true` would replace {entry.name!r}, a verified entry from {old.source}, with the "
                f"plugin's {entry.repo_id}@{entry.revision[:12]} (integrity {entry.integrity!r}); zoo does not let a "
                f"plugin replace verified hashes. If you trust the plugin, add "
                f"`allow_plugin_override = [\"{entry.name}\"]` to {s.config_file}; otherwise disable the plugin "
                f"(ZOO_DISABLE_PLUGINS).", source=entry.source, entry=entry.name, key="override")
        merged[entry.name] = entry

    if include_builtin is None:
        include_builtin = s.builtin_registry
    files = ([builtin_registry_path()] if include_builtin else []) + list(s.registry_paths)
    for path in files:
        layers.append(str(path))
        for entry, override in load_registry_file(Path(path), cache_dir=s.zoo_home / "registry-cache"):
            add(entry, override)
    if callable(plugin_tables):
        plugin_tables = plugin_tables()
    for plugin, table in plugin_tables or ():
        source = f"plugin:{plugin}"
        table = dict(table)
        try:
            name = table.pop("name", None)
            if not isinstance(name, str):
                raise RegistryValidationError("a plugin-contributed entry needs a 'name' key.", source=source)
            entry = parse_entry(name, table, source=source)
            add(entry, bool(table.get("override", False)))
        except (RegistryCollisionError, RegistryValidationError) as exc:
            if on_plugin_error is None:
                raise
            on_plugin_error(plugin, exc)
            continue
        if source not in layers:
            layers.append(source)
    return Registry(entries=dict(merged), layers=tuple(layers))
