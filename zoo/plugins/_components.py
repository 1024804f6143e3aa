"""Components: what plugins contribute through the ``register_*`` hooks, and how it is collected.

Collection is lazy and per kind: the first time a kind is listed or looked up, zoo calls that
kind's hook once per plugin, each with its own ``register`` callback, so zoo knows which plugin
contributed what, and a plugin whose hook raises loses its contributions of that kind (and is
reported) without affecting other plugins. Results are cached on the manager.

Collision rule: two plugins registering the same name for the same kind raise
:class:`~zoo.errors.ComponentCollisionError` naming both. There is no override; rename one, or
disable one with ``ZOO_DISABLE_PLUGINS``.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..errors import ComponentCollisionError
from ._options import check_schema

if TYPE_CHECKING:  # pragma: no cover
    from ._manager import ZooPluginManager

__all__ = [
    "KINDS",
    "KIND_HOOKS",
    "Component",
    "Command",
    "contributions",
    "components",
    "usable_components",
    "backbone_tables",
]

KIND_HOOKS: dict[str, str] = {
    "architecture": "register_architectures",
    "head": "register_heads",
    "freezing": "register_freezing_policies",
    "compression": "register_compression_passes",
    "evaluator": "register_evaluators",
    "adaptation": "register_adaptation_methods",
    "dataset": "register_datasets",
    "command": "register_commands",
}
"""Component kind -> the contribution hook that provides it."""

KINDS: tuple[str, ...] = tuple(KIND_HOOKS)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


@dataclass(frozen=True)
class Component:
    """One contributed component: what it is, where it came from, and its options schema."""

    kind: str
    name: str
    obj: Any
    summary: str
    options: type | None
    plugin: str
    distribution: str | None = None
    version: str | None = None

    @property
    def doc(self) -> str:
        """The full docstring of the object (its summary when it has none)."""
        return inspect.getdoc(self.obj) or self.summary

    def defaults(self) -> Any:
        """An options instance with every default (``None`` when the component has no options)."""
        return None if self.options is None else self.options()


@dataclass(frozen=True)
class Command:
    """The object of a ``command`` component: ``configure(parser)`` then ``run(args) -> int | None``."""

    configure: Callable[[Any], None]
    run: Callable[[Any], int | None]


def _first_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise TypeError(
            f"{kind} name {name!r} is not valid: use letters, digits and '_', '.', ':', '-' "
            "(starting with a letter or digit)"
        )


def _component_register(kind: str, meta: Any, sink: list[Component]) -> Callable[..., None]:
    def register(name: str, obj: Any, *, summary: str = "", options: type | None = None) -> None:
        _check_name(kind, name)
        if obj is None:
            raise TypeError(f"{kind} {name!r}: the registered object is None")
        if options is not None:
            check_schema(options)
        text = (summary or _first_line(obj)).strip()
        if not text:
            raise TypeError(f"{kind} {name!r}: give summary=... or a docstring to the registered object")
        sink.append(Component(kind, name, obj, text, options, meta.name, meta.distribution, meta.version))

    return register


def _command_register(meta: Any, sink: list[Component]) -> Callable[..., None]:
    def register(
        name: str, *, configure: Callable[[Any], None], run: Callable[[Any], int | None], summary: str
    ) -> None:
        _check_name("command", name)
        if not callable(configure) or not callable(run):
            raise TypeError(f"command {name!r}: configure and run must be callables")
        if not str(summary).strip():
            raise TypeError(f"command {name!r}: summary must not be empty")
        sink.append(Component("command", name, Command(configure, run), str(summary).strip(), None,
                              meta.name, meta.distribution, meta.version))

    return register


def _call_each(pm: ZooPluginManager, hook_name: str, make_register: Callable[[Any, list], Callable]) -> list:
    """Call ``hook_name`` once per plugin, isolating failures; return the contributions in order."""
    out: list = []
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        if impl.hookwrapper or impl.wrapper:
            continue
        sink: list = []
        register = make_register(pm.plugin_meta(impl.plugin_name), sink)
        try:
            impl.function(*[register for _ in impl.argnames])
        except Exception as exc:  # a broken plugin must not break the others
            pm.record_failure(impl.plugin_name, exc, stage=hook_name)
            continue
        out.extend(sink)
    return out


def contributions(pm: ZooPluginManager, kind: str) -> list[Component]:
    """Every component of ``kind`` that loaded plugins contribute, collisions included."""
    if kind not in KIND_HOOKS:
        raise ValueError(f"unknown component kind {kind!r}; kinds are: {', '.join(KINDS)}")
    cache = pm._contributions
    if kind not in cache:
        if kind == "command":
            cache[kind] = _call_each(pm, KIND_HOOKS[kind], _command_register)
        else:
            cache[kind] = _call_each(pm, KIND_HOOKS[kind], lambda meta, sink: _component_register(kind, meta, sink))
    return cache[kind]


def _collision(kind: str, first: Component, second: Component) -> ComponentCollisionError:
    def origin(c: Component) -> str:
        dist = f" (distribution {c.distribution} {c.version})" if c.distribution else ""
        return f"{c.plugin!r}{dist}"

    err = ComponentCollisionError(
        f"{kind} {first.name!r} is registered by two plugins: {origin(first)} and {origin(second)}. "
        f"Component names must be unique per kind; uninstall or disable one of them "
        f"(ZOO_DISABLE_PLUGINS={second.plugin}) or ask its author to rename it."
    )
    err.kind, err.name, err.plugins = kind, first.name, (first.plugin, second.plugin)
    return err


def components(pm: ZooPluginManager, kind: str) -> dict[str, Component]:
    """``kind``'s components by name.

    Raises:
        ComponentCollisionError: two plugins registered the same name for ``kind``.
    """
    found: dict[str, Component] = {}
    for comp in contributions(pm, kind):
        if comp.name in found:
            raise _collision(kind, found[comp.name], comp)
        found[comp.name] = comp
    return found


def usable_components(pm: ZooPluginManager, kind: str) -> tuple[dict[str, Component], list[ComponentCollisionError]]:
    """``kind``'s components by name, keeping one per name, and the collisions that were set aside.

    A builtin keeps its name against a third-party plugin; between two third-party plugins the
    first loaded keeps it. The CLI uses this so that a plugin command named like a builtin
    (``run``) is refused with a warning instead of breaking every command; ``zoo plugins doctor``
    still reports the collision as a problem.
    """
    found: dict[str, Component] = {}
    refused: list[ComponentCollisionError] = []
    for comp in contributions(pm, kind):
        prior = found.get(comp.name)
        if prior is None:
            found[comp.name] = comp
            continue
        if not pm.plugin_meta(prior.plugin).builtin and pm.plugin_meta(comp.plugin).builtin:
            found[comp.name], comp = comp, prior
        refused.append(_collision(kind, found[comp.name], comp))
    return found, refused


def backbone_tables(pm: ZooPluginManager) -> list[tuple[str, dict]]:
    """``(plugin name, raw entry table)`` for every registry entry contributed by plugins."""
    if pm._backbones is None:

        def make_register(meta: Any, sink: list) -> Callable[[Mapping[str, Any]], None]:
            def register(entry: Mapping[str, Any]) -> None:
                if not isinstance(entry, Mapping):
                    raise TypeError(f"register(entry) takes a table (dict), got {type(entry).__name__}")
                sink.append((meta.name, dict(entry)))

            return register

        pm._backbones = _call_each(pm, "register_backbones", make_register)
    return list(pm._backbones)

