"""The plugin manager: a pluggy ``PluginManager`` that validates at registration and keeps
a record of plugins that failed, instead of letting one broken plugin break zoo.
"""

from __future__ import annotations

import traceback as _traceback
from dataclasses import dataclass
from typing import Any, NamedTuple

import pluggy

from .. import hookspecs
from ..errors import PluginLoadError, did_you_mean

__all__ = ["PluginFailure", "PluginMeta", "ZooPluginManager"]


class PluginFailure(NamedTuple):
    """A plugin that failed to import, to validate or to contribute: its name and traceback."""

    plugin: str
    traceback: str

    @property
    def message(self) -> str:
        """The last line of the traceback (``ExcType: message``)."""
        lines = [line for line in self.traceback.strip().splitlines() if line.strip()]
        return lines[-1].strip() if lines else "unknown error"


@dataclass(frozen=True)
class PluginMeta:
    """Where a plugin comes from: its name, distribution and version, and whether it is built in."""

    name: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False


def _format(exc: BaseException) -> str:
    return "".join(_traceback.format_exception(type(exc), exc, exc.__traceback__))


def _spec_names() -> list[str]:
    marker = f"{hookspecs.PROJECT}_spec"
    return [n for n, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, marker)]


class ZooPluginManager(pluggy.PluginManager):
    """pluggy's manager for project ``"zoo"``, with zoo's hookspecs, failure records and caches.

    ``register`` validates a plugin completely before changing any state: a hook name without
    a spec (a misspelling: ``register_evalutors``) or a function named like a hook but missing
    ``@hookimpl`` raises ``pluggy.PluginValidationError`` naming the plugin and the hook.
    """

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.strict = strict
        self.failures: list[PluginFailure] = []
        self.skipped: dict[str, str] = {}  # plugin name -> why it was not loaded
        self._meta: dict[str, PluginMeta] = {}
        self._contributions: dict[str, list] = {}
        self._backbones: list[tuple[str, dict]] | None = None

    # --- registration -----------------------------------------------------------------

    def _validate(self, plugin: Any, name: str) -> None:
        specs = set(_spec_names())
        for attr in dir(plugin):
            opts = self.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                if attr in specs and callable(getattr(plugin, attr, None)) and not isinstance(plugin, type):
                    raise pluggy.PluginValidationError(
                        plugin, f"plugin {name!r}: {attr}() is named like a hook but lacks @hookimpl "
                        "(from zoo import hookimpl)"
                    )
                continue
            hook_name = opts.get("specname") or attr
            hook = getattr(self.hook, hook_name, None)
            if (hook is None or not hook.has_spec()) and not opts.get("optionalhook"):
                raise pluggy.PluginValidationError(
                    plugin, f"plugin {name!r} implements unknown hook {hook_name!r}."
                    f"{did_you_mean(hook_name, sorted(specs))} Hooks are listed in docs/hooks.md."
                )

    def register(  # type: ignore[override]
        self,
        plugin: Any,
        name: str | None = None,
        *,
        distribution: str | None = None,
        version: str | None = None,
        builtin: bool = False,
    ) -> str | None:
        """Validate and register ``plugin``; remember where it came from.

        Raises:
            pluggy.PluginValidationError: unknown hook name, hookimpl arguments not in the spec,
                or a hook-named function without ``@hookimpl``.
            ValueError: the name or the plugin object is already registered.
        """
        plugin_name = name or self.get_canonical_name(plugin)
        self._validate(plugin, plugin_name)
        registered = super().register(plugin, plugin_name)
        if registered is not None:
            self._meta[registered] = PluginMeta(registered, distribution, version, builtin)
            self._invalidate()
        return registered

    def unregister(self, plugin: Any = None, name: str | None = None) -> Any:
        result = super().unregister(plugin, name)
        self._invalidate()
        return result

    def _invalidate(self) -> None:
        self._contributions.clear()
        self._backbones = None

    # --- bookkeeping --------------------------------------------------------------------

    def set_meta(self, meta: PluginMeta) -> None:
        """Remember metadata for a plugin that may fail before it registers."""
        self._meta[meta.name] = meta

    def plugin_meta(self, name: str) -> PluginMeta:
        """Where plugin ``name`` came from (a bare record for plugins registered in memory)."""
        return self._meta.get(name) or PluginMeta(name)

    def record_failure(self, plugin: str, error: BaseException | str, *, stage: str = "load") -> PluginFailure:
        """Record that ``plugin`` failed; in strict mode raise :class:`PluginLoadError` instead."""
        text = error if isinstance(error, str) else _format(error)
        if stage != "load":
            text = f"while calling {stage}():\n{text}"
        failure = PluginFailure(plugin, text)
        self.failures.append(failure)
        if self.strict:
            raise strict_error([failure]) from (error if isinstance(error, BaseException) else None)
        return failure

    def hook_names(self, name: str) -> list[str]:
        """The hooks plugin ``name`` implements, sorted."""
        plugin = self.get_plugin(name)
        callers = self.get_hookcallers(plugin) if plugin is not None else None
        return sorted(c.name for c in callers or [])


def strict_error(failures: list[PluginFailure]) -> PluginLoadError:
    """The error raised under ``ZOO_PLUGINS_STRICT=1``: every failure with its traceback."""
    names = ", ".join(repr(f.plugin) for f in failures)
    details = "\n".join(f"--- plugin {f.plugin!r} ---\n{f.traceback.rstrip()}" for f in failures)
    err = PluginLoadError(
        f"plugin(s) {names} failed to load and ZOO_PLUGINS_STRICT=1 is set. Fix, uninstall "
        f"(`zoo plugins uninstall`) or disable them (ZOO_DISABLE_PLUGINS=...).\n{details}"
    )
    err.failures = list(failures)
    err.plugin = failures[0].plugin if failures else None
    return err
