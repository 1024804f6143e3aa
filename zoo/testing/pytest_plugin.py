"""pytest plugin of the conformance kit (entry point ``pytest11``: ``zoo``).

Fixtures:

* ``zoo_plugin_manager``: a fresh plugin manager with the builtins only (no entry points).
* ``zoo_register``: ``zoo_register(plugin, name=None, *, builtins=False)`` registers a plugin
  object in a fresh manager and returns the manager; the manager is dropped after the test.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

__all__ = ["zoo_plugin_manager", "zoo_register"]


@pytest.fixture
def zoo_plugin_manager():
    from zoo.plugins import make_manager

    return make_manager(entry_points=False)


@pytest.fixture
def zoo_register() -> Any:
    from zoo.plugins import make_manager

    managers: list[Any] = []

    def register(plugin: Any, name: str | None = None, *, builtins: bool = False) -> Any:
        pm = make_manager(builtins=builtins, entry_points=False)
        pm.register(plugin, name)
        managers.append(pm)
        return pm

    register_fn: Callable[..., Any] = register
    yield register_fn
    for pm in managers:
        for plugin in list(pm.get_plugins()):
            pm.unregister(plugin)
