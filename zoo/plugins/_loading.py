"""Building managers: builtins first, then third-party plugins from the ``zoo`` entry points.

Each plugin is imported and registered on its own: one that fails is recorded as a
:class:`PluginFailure` (shown by ``zoo plugins doctor``) and the others load normally. With
``ZOO_PLUGINS_STRICT=1`` the first failure raises :class:`~zoo.errors.PluginLoadError` after
every plugin has been tried.

``ZOO_LOAD_PLUGINS`` is an allow-list of third-party plugin names (set but empty: none);
``ZOO_DISABLE_PLUGINS`` is a deny-list of any plugin names, builtins included, except the
essential ``zoo.default_plugins.plugin_commands`` (so ``zoo plugins doctor`` always works).

A third-party plugin gets ``ZOO_PLUGIN_TIMEOUT`` seconds (default 10) to import: one that hangs
is recorded as a failure naming it, and zoo goes on without it (the import is left running in a
daemon thread, which does not keep the process alive).
"""

from __future__ import annotations

import importlib
import threading
from importlib import metadata
from typing import Any, Iterable

from .. import __version__
from ..errors import PluginLoadError
from ..config import Settings, settings as read_settings
from ._manager import PluginMeta, ZooPluginManager, strict_error

__all__ = ["DEFAULT_PLUGINS", "ESSENTIAL_PLUGINS", "ENTRY_POINT_GROUP", "make_manager", "get_manager"]

ENTRY_POINT_GROUP = "zoo"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "heads",
    "freezing",
    "probes",
    "protocols",
    "plugin_commands",
    "bert_text",
    "image_models",
    "convert_command",
    "registry_commands",
    "datasets",
    "runner_commands",
    "catalog_commands",
    "compression",
    "adaptation",
    "image_compression",
    "export_commands",
)
"""Builtin plugin modules under ``zoo.default_plugins``, registered as ``zoo.default_plugins.NAME``."""

ESSENTIAL_PLUGINS: frozenset[str] = frozenset({"zoo.default_plugins.plugin_commands"})
"""Builtins that ``ZOO_DISABLE_PLUGINS`` cannot disable."""

_DISTRIBUTION = "transferzoo"

_MANAGER: ZooPluginManager | None = None


def _load_builtins(pm: ZooPluginManager, modules: Iterable[str], cfg: Settings) -> None:
    for module in modules:
        name = module if "." in module else f"zoo.default_plugins.{module}"
        if name in cfg.disable_plugins and name not in ESSENTIAL_PLUGINS:
            pm.skipped[name] = "disabled by ZOO_DISABLE_PLUGINS"
            continue
        meta = PluginMeta(name, _DISTRIBUTION, __version__, builtin=True)
        pm.set_meta(meta)
        try:
            plugin = importlib.import_module(name)
            pm.register(plugin, name, distribution=meta.distribution, version=meta.version, builtin=True)
        except Exception as exc:
            pm.record_failure(name, exc)


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _dist(ep: metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"] or dist.name, dist.version


def _load_in_time(ep: metadata.EntryPoint, seconds: float) -> Any:
    """``ep.load()``, giving up after ``seconds``: raises :class:`PluginLoadError` naming the plugin."""
    done: dict[str, Any] = {}

    def target() -> None:
        try:
            done["plugin"] = ep.load()
        except BaseException as exc:  # noqa: BLE001 -- re-raised in the caller's thread
            done["error"] = exc

    thread = threading.Thread(target=target, name=f"zoo-plugin-import-{ep.name}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise PluginLoadError(
            f"plugin {ep.name!r} ({ep.value}) did not finish importing within {seconds:g} s; zoo went on without it. "
            f"Fix or uninstall it, disable it with ZOO_DISABLE_PLUGINS={ep.name}, or allow more time with "
            f"ZOO_PLUGIN_TIMEOUT=SECONDS."
        )
    if "error" in done:
        raise done["error"]
    return done["plugin"]


def _name_clash(pm: ZooPluginManager, name: str, plugin: Any) -> str | None:
    """Why ``plugin`` cannot register as ``name`` (pluggy's own message prints a dict of modules)."""
    if pm.has_plugin(name):
        return (f"PluginLoadError: entry point name {name!r} is already the name of a loaded plugin "
                f"({pm.plugin_meta(name).distribution or 'registered earlier'}); rename the entry point "
                f"in the plugin's pyproject.toml.")
    other = pm.get_name(plugin)
    if other is not None:
        return (f"PluginLoadError: entry point {name!r} points to the module already registered as {other!r}; "
                f"a plugin module can be registered only once. Point the entry point at the plugin's own module.")
    return None


def _load_entry_points(pm: ZooPluginManager, cfg: Settings) -> None:
    seen: dict[str, tuple[str | None, str]] = {}
    for ep in _entry_points():
        dist, version = _dist(ep)
        if ep.name in seen:
            if seen[ep.name] == (dist, ep.value):
                continue  # the same distribution found twice on sys.path
            pm.record_failure(
                ep.name,
                f"PluginLoadError: entry point name {ep.name!r} in group {ENTRY_POINT_GROUP!r} is used by "
                f"{seen[ep.name][0]} and by {dist}; only the first was loaded. Uninstall one of them.",
            )
            continue
        seen[ep.name] = (dist, ep.value)
        if ep.name in cfg.disable_plugins:
            pm.skipped[ep.name] = "disabled by ZOO_DISABLE_PLUGINS"
            continue
        if cfg.load_plugins is not None and ep.name not in cfg.load_plugins:
            pm.skipped[ep.name] = "not in ZOO_LOAD_PLUGINS"
            continue
        if pm.has_plugin(ep.name):  # named like a builtin: keep the builtin's metadata
            pm.record_failure(ep.name, _name_clash(pm, ep.name, None) or "")
            continue
        pm.set_meta(PluginMeta(ep.name, dist, version))
        try:
            plugin = _load_in_time(ep, cfg.plugin_timeout)
            clash = _name_clash(pm, ep.name, plugin)
            if clash:
                pm.record_failure(ep.name, clash)
                continue
            pm.register(plugin, ep.name, distribution=dist, version=version)
        except Exception as exc:
            pm.record_failure(ep.name, exc)
        except SystemExit as exc:  # a plugin that calls sys.exit() at import
            pm.record_failure(ep.name, exc)


def make_manager(
    *,
    builtins: bool | Iterable[str] = True,
    entry_points: bool = True,
    settings: Settings | None = None,
) -> ZooPluginManager:
    """A fresh manager (for tests and tools); :func:`get_manager` is the process-wide one.

    ``builtins``: ``True`` for :data:`DEFAULT_PLUGINS`, ``False`` for none, or module names.
    ``entry_points``: load third-party plugins from the ``zoo`` entry-point group.
    ``settings``: allow/deny lists and strictness (default: read from the environment).

    Raises:
        PluginLoadError: a plugin failed and ``settings.plugins_strict`` is set.
    """
    cfg = settings if settings is not None else read_settings()
    pm = ZooPluginManager(strict=False)
    modules = DEFAULT_PLUGINS if builtins is True else (() if builtins is False else tuple(builtins))
    _load_builtins(pm, modules, cfg)
    if entry_points:
        _load_entry_points(pm, cfg)
    if cfg.plugins_strict and pm.failures:
        raise strict_error(pm.failures)
    pm.strict = cfg.plugins_strict
    return pm


def get_manager(*, reload: bool = False) -> ZooPluginManager:
    """The process-wide manager, built on first use from the environment's settings.

    Raises:
        PluginLoadError: a plugin failed and ``ZOO_PLUGINS_STRICT=1``.
    """
    global _MANAGER
    if _MANAGER is None or reload:
        _MANAGER = None
        _MANAGER = make_manager()
    return _MANAGER
