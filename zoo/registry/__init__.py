"""The backbone registry: names -> pinned, hashed pretrained weights on the Hub.

Python API in the spirit of ``timm.list_models``::

    zoo.list_backbones("*minilm*", modality="text")
    zoo.backbone_info("all-minilm-l6-v2").revision
"""

from __future__ import annotations

import fnmatch
from typing import Iterable, Mapping, get_args

from ..config import settings as _settings
from ..errors import RegistryFilterError, UnknownBackboneError, did_you_mean
from .entry import BackboneEntry, FileSpec, InputSpec, Lineage, Modality, Reference
from .layers import Registry, build_registry, builtin_registry_path, load_registry_file
from .parse import parse_entry, parse_registry

__all__ = [
    "BackboneEntry",
    "FileSpec",
    "InputSpec",
    "Lineage",
    "Reference",
    "Registry",
    "get_registry",
    "list_backbones",
    "backbone_info",
    "build_registry",
    "builtin_registry_path",
    "load_registry_file",
    "parse_entry",
    "parse_registry",
]

_CACHE: dict[tuple, Registry] = {}



def _plugin_tables() -> Iterable[tuple[str, Mapping]]:
    from ..plugins import list_backbone_tables

    return list_backbone_tables()


def _plugin_error(plugin: str, error: Exception) -> None:
    """A plugin's entry that collides or does not validate: that plugin's failure, not the registry's."""
    from ..plugins import get_manager

    get_manager().record_failure(plugin, error, stage="register_backbones")


def _cache_key() -> tuple:
    s = _settings()
    stamps: list[tuple] = [("builtin", s.builtin_registry)]
    for p in (builtin_registry_path(), *s.registry_paths):
        try:
            st = p.stat()
            stamps.append((str(p), st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append((str(p), None, None))
    return tuple(stamps)


def get_registry(*, reload: bool = False) -> Registry:
    """The merged registry of every layer (cached until a registry file changes)."""
    key = _cache_key()
    if reload or key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = build_registry(plugin_tables=_plugin_tables, on_plugin_error=_plugin_error)
    return _CACHE[key]


def list_backbones(
    pattern: str = "*",
    *,
    modality: str | None = None,
    license: str | None = None,
    architecture: str | None = None,
    tag: str | None = None,
    verified: bool | None = None,
) -> list[str]:
    """Names of the registered backbones matching a shell-style ``pattern`` and the filters.

    Matching is case-insensitive; ``verified=True`` keeps entries whose hashes were
    verified by the registry's authors, ``False`` the trust-on-first-use ones.

    Raises:
        RegistryFilterError: ``modality`` is not ``text`` or ``image`` (the message suggests the
            closest), since a misspelt filter would silently match nothing.
    """
    if modality is not None and modality not in get_args(Modality):
        raise RegistryFilterError(
            f"modality {modality!r} is not a backbone modality.{did_you_mean(str(modality), get_args(Modality))} "
            f"Modalities are: {', '.join(get_args(Modality))}."
        )
    out = []
    for e in get_registry():
        if not fnmatch.fnmatch(e.name.lower(), pattern.lower()):
            continue
        if modality is not None and e.modality != modality:
            continue
        if license is not None and e.license.lower() != license.lower():
            continue
        if architecture is not None and e.architecture != architecture:
            continue
        if tag is not None and tag not in e.tags:
            continue
        if verified is not None and (e.integrity == "verified") != verified:
            continue
        out.append(e.name)
    return sorted(out)


def backbone_info(name: str) -> BackboneEntry:
    """The registry entry for ``name``.

    Raises:
        UnknownBackboneError: no layer defines ``name`` (the message suggests close names).
    """
    reg = get_registry()
    try:
        return reg.entries[name]
    except KeyError:
        raise UnknownBackboneError(name, reg.names()) from None
