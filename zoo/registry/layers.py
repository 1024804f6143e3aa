"""Assemble the registry from its layers: built-in file, user files, plugin entries.

Layers, in order: the built-in ``registry.toml`` shipped with zoo; the files named
in the config file's ``registry = [...]`` and in ``ZOO_REGISTRY`` (``os.pathsep``
separated); then entries contributed by plugins through ``register_backbones``.
A name defined by two layers is an error (:class:`RegistryCollisionError`) unless
the later entry sets ``override = true``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Mapping

from ..config import Settings, settings as _settings
from ..errors import RegistryCollisionError, RegistryValidationError
from .._toml import tomllib
from .entry import BackboneEntry
from .parse import parse_entry, parse_registry

__all__ = ["Registry", "builtin_registry_path", "load_registry_file", "build_registry"]


def builtin_registry_path() -> Path:
    """The ``registry.toml`` that ships inside the package (the repo's top-level file)."""
    return Path(str(resources.files("zoo") / "registry.toml"))


def load_registry_file(path: Path) -> list[tuple[BackboneEntry, bool]]:
    """Parse and validate one registry file."""
    if not path.is_file():
        raise RegistryValidationError(
            "registry file not found. Fix the path in ZOO_REGISTRY or in the config file's `registry` list.",
            source=str(path),
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RegistryValidationError(f"not valid TOML: {exc}", source=str(path)) from exc
    return parse_registry(data, source=str(path))


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
    include_builtin: bool = True,
    plugin_tables: Iterable[tuple[str, Mapping]] | Callable[[], Iterable[tuple[str, Mapping]]] | None = None,
    on_plugin_error: Callable[[str, Exception], None] | None = None,
) -> Registry:
    """Read every layer and merge them, reporting collisions.

    ``plugin_tables`` yields ``(plugin_name, raw_table)`` where the raw table
    carries a ``name`` key plus the usual entry keys. With ``on_plugin_error``, a plugin entry
    that does not validate or collides is left out and passed to it as ``(plugin, error)``
    (the CLI records it as that plugin's failure), so one plugin cannot break the registry.
    """
    s = settings or _settings()
    merged: dict[str, BackboneEntry] = {}
    layers: list[str] = []

    def add(entry: BackboneEntry, override: bool) -> None:
        if entry.name in merged and not override:
            raise RegistryCollisionError(entry.name, merged[entry.name].source, entry.source)
        merged[entry.name] = entry

    files = ([builtin_registry_path()] if include_builtin else []) + list(s.registry_paths)
    for path in files:
        layers.append(str(path))
        for entry, override in load_registry_file(Path(path)):
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
