"""Find the components of a plugin, and turn them into parametrized pytest cases."""

from __future__ import annotations

from typing import Any, Iterable

from ..plugins import Component, ZooPluginManager, list_components, make_manager
from .checks import checks_for

__all__ = ["components_of", "parametrize_with_checks"]


def _manager_with(plugin: Any, name: str | None) -> tuple[ZooPluginManager, str]:
    pm = make_manager(builtins=False, entry_points=False)
    registered = pm.register(plugin, name or getattr(plugin, "__name__", None))
    assert registered is not None
    return pm, registered


def components_of(plugin: Any, *, name: str | None = None, kinds: Iterable[str] | None = None) -> list[Component]:
    """The components ``plugin`` contributes.

    ``plugin`` is a plugin object (a module with ``@hookimpl`` functions), registered alone in a
    fresh manager, or a string: the name of an installed plugin (an entry-point name, or a
    builtin's ``zoo.default_plugins.NAME``), looked up among everything installed.

    Raises:
        LookupError: a named plugin is not installed or failed to load.
        pluggy.PluginValidationError: the plugin object does not validate.
    """
    if isinstance(plugin, str):
        pm = make_manager()
        if pm.get_plugin(plugin) is None:
            failures = [f.traceback for f in pm.failures if f.plugin == plugin]
            raise LookupError(f"plugin {plugin!r} is not loaded" + (f":\n{failures[0]}" if failures else ""))
        found = [c for c in list_components(manager=pm) if c.plugin == plugin]
    else:
        pm, _ = _manager_with(plugin, name)
        found = list_components(manager=pm)
    own = [f.traceback for f in pm.failures if isinstance(plugin, str) is False or f.plugin == plugin]
    if own:
        raise AssertionError("plugin hooks failed:\n" + "\n".join(own))
    wanted = set(kinds) if kinds is not None else None
    return [c for c in found if wanted is None or c.kind in wanted]


def parametrize_with_checks(*plugins: Any, kinds: Iterable[str] | None = None):
    """A ``pytest.mark.parametrize("component, check", ...)`` over every check of every component.

    Test ids read ``KIND:NAME-CHECK``. Fails at collection if a plugin contributes nothing.
    """
    import pytest

    params = []
    for plugin in plugins:
        comps = components_of(plugin, kinds=kinds)
        if not comps:
            raise AssertionError(f"plugin {plugin!r} contributes no components to check")
        for comp in comps:
            for check in checks_for(comp):
                params.append(pytest.param(comp, check, id=f"{comp.kind}:{comp.name}-{check.__name__}"))
    return pytest.mark.parametrize("component, check", params)
