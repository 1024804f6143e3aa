"""The functions the rest of zoo calls: look up and list components, report plugins and failures.

Every function takes an optional ``manager``; without one it uses the process-wide
:func:`~zoo.plugins.get_manager`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UnknownComponentError, did_you_mean
from ._components import KINDS, Component, backbone_tables, components, contributions
from ._loading import get_manager
from ._manager import PluginFailure, ZooPluginManager

__all__ = [
    "PluginInfo",
    "get_component",
    "list_components",
    "list_backbone_tables",
    "list_plugins",
    "load_failures",
    "format_failures",
]


def _pm(manager: ZooPluginManager | None) -> ZooPluginManager:
    return manager if manager is not None else get_manager()


def get_component(kind: str, name: str, *, manager: ZooPluginManager | None = None) -> Component:
    """The component of ``kind`` named ``name``.

    Raises:
        UnknownComponentError: no loaded plugin provides it (the message suggests close names
            and lists the installed ones).
        ComponentCollisionError: two plugins registered ``kind`` components with one name.
        ValueError: ``kind`` is not one of :data:`KINDS`.
    """
    pm = _pm(manager)
    found = components(pm, kind)
    if name in found:
        return found[name]
    names = sorted(found)
    hint = ""
    if pm.failures:
        hint = f" ({len(pm.failures)} plugin(s) failed to load; run `zoo plugins doctor`.)"
    err = UnknownComponentError(
        f"no {kind} named {name!r}.{did_you_mean(name, names)} Installed {kind} components: "
        f"{', '.join(names) or '(none)'}. Install a plugin that provides it with "
        f"`zoo plugins install ...`; `zoo plugins list` shows what each plugin provides.{hint}"
    )
    err.kind, err.name, err.known = kind, name, names
    raise err


def list_components(kind: str | None = None, *, manager: ZooPluginManager | None = None) -> list[Component]:
    """Components of ``kind`` (every kind when ``None``), by kind then name.

    Raises:
        ComponentCollisionError: two plugins registered one name for one kind.
    """
    pm = _pm(manager)
    kinds = KINDS if kind is None else (kind,)
    return [c for k in kinds for _, c in sorted(components(pm, k).items())]


def list_backbone_tables(*, manager: ZooPluginManager | None = None) -> list[tuple[str, dict]]:
    """``(plugin name, raw registry-entry table)`` for every backbone that plugins register."""
    return backbone_tables(_pm(manager))


def load_failures(manager: ZooPluginManager | None = None) -> list[PluginFailure]:
    """Plugins that failed to load or contribute so far: ``(plugin name, formatted traceback)``."""
    return list(_pm(manager).failures)


def format_failures(manager: ZooPluginManager | None = None, *, prog: str = "zoo") -> list[str]:
    """One warning line per failure, for the CLI to print on stderr."""
    return [
        f"{prog}: plugin {f.plugin} failed to load: {f.message}; run `{prog} plugins doctor`"
        for f in load_failures(manager)
    ]


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as ``zoo plugins list`` shows it."""

    name: str
    version: str | None
    distribution: str | None
    builtin: bool
    hooks: tuple[str, ...]
    components: dict[str, tuple[str, ...]] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "builtin": self.builtin,
            "hooks": list(self.hooks),
            "components": {k: list(v) for k, v in self.components.items()},
            "error": self.error,
        }


def list_plugins(*, manager: ZooPluginManager | None = None, failed: bool = True) -> list[PluginInfo]:
    """Loaded plugins (and, with ``failed``, those that failed to load), builtins first.

    Collects every kind of component, so plugins whose hooks raise are recorded as failures.
    """
    pm = _pm(manager)
    by_plugin: dict[str, dict[str, list[str]]] = {}
    for kind in KINDS:
        for comp in contributions(pm, kind):
            by_plugin.setdefault(comp.plugin, {}).setdefault(kind, []).append(comp.name)
    infos: list[PluginInfo] = []
    for name, _plugin in pm.list_name_plugin():
        if _plugin is None:
            continue
        meta = pm.plugin_meta(name)
        comps = {k: tuple(sorted(v)) for k, v in by_plugin.get(name, {}).items()}
        infos.append(PluginInfo(name, meta.version, meta.distribution, meta.builtin, tuple(pm.hook_names(name)), comps))
    if failed:
        loaded = {i.name for i in infos}
        for failure in pm.failures:
            if failure.plugin in loaded:
                continue
            meta = pm.plugin_meta(failure.plugin)
            infos.append(PluginInfo(failure.plugin, meta.version, meta.distribution, meta.builtin, (), {}, failure.message))
            loaded.add(failure.plugin)
    return sorted(infos, key=lambda i: (not i.builtin, i.name))
