"""transferzoo's plugin system: every part of a transfer experiment comes from a plugin.

Builtins (modules under ``zoo.default_plugins``) and third-party plugins (the ``zoo`` entry-point
group) are registered the same way, each on its own, so a broken plugin is reported and never
breaks other commands. See ``docs/writing-plugins.md`` and ``docs/hooks.md``.

Component kinds: ``architecture``, ``head``, ``freezing``, ``compression``, ``evaluator``,
``dataset``, ``command``.
"""

from __future__ import annotations

from ..hookspecs import hookimpl
from ._api import (
    PluginInfo,
    format_failures,
    get_component,
    list_backbone_tables,
    list_components,
    list_plugins,
    load_failures,
)
from ._components import KINDS, Command, Component
from ._loading import DEFAULT_PLUGINS, get_manager, make_manager
from ._manager import PluginFailure, ZooPluginManager
from ._options import describe_options, validate_options

__all__ = [
    "KINDS",
    "DEFAULT_PLUGINS",
    "hookimpl",
    "ZooPluginManager",
    "Component",
    "Command",
    "PluginFailure",
    "PluginInfo",
    "get_manager",
    "make_manager",
    "get_component",
    "list_components",
    "list_backbone_tables",
    "list_plugins",
    "load_failures",
    "format_failures",
    "validate_options",
    "describe_options",
]
