"""Gather what the catalog shows into plain dicts: backbones, components, plugins, runs, docs.

Everything the renderer needs is collected here, once, from the live registry and plugin
manager, so the renderer is a pure function of JSON-ready data (and the tests can check the
data and the pages separately). Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Iterable

from .runs import collect_runs, leaderboards

__all__ = ["collect_catalog", "collect_backbones", "collect_components", "collect_plugins", "collect_docs",
           "slug", "first_heading", "DOC_ORDER"]

DOC_ORDER: tuple[str, ...] = (
    "index", "installation", "quickstart", "registry", "offline", "recipes", "reproducibility", "components",
    "writing-plugins", "hooks",
)
"""Guide pages in reading order; other ``docs/*.md`` pages follow alphabetically."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def slug(name: str) -> str:
    """A file-name-safe form of a plugin, component or dataset name (``:`` and ``/`` become ``_``).

    ``index`` becomes ``index_`` so that no name takes the place of a folder's index page.
    """
    out = _UNSAFE.sub("_", name).strip(".") or "_"
    return out + "_" if out.lower() == "index" else out


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def collect_backbones(registry: Any) -> list[dict[str, Any]]:
    """One dict per registry entry (``BackboneEntry.to_dict()`` plus ``hub_url``), by name.

    ``source`` keeps the layer's path, except for the built-in file, which is named as such
    (its path is an install detail).
    """
    from ..registry import builtin_registry_path

    builtin = str(builtin_registry_path())
    out = []
    for entry in sorted(registry, key=lambda e: e.name):
        d = _jsonable(entry.to_dict())
        d["hub_url"] = entry.hub_url
        if d["source"] == builtin:
            d["source"] = "zoo's built-in registry.toml"
        d["files"] = [{"filename": f.filename, "sha256": f.sha256} for f in entry.files]
        out.append(d)
    return out


def collect_components(manager: Any) -> list[dict[str, Any]]:
    """One dict per component of every kind (kind, name, summary, doc, options, origin)."""
    from ..plugins import KINDS, describe_options, list_components

    out = []
    for kind in KINDS:
        for comp in list_components(kind, manager=manager):
            options = [
                {"name": o.name, "type": o.type, "default": _jsonable(o.default), "help": o.help}
                for o in describe_options(comp.options)
            ]
            out.append({
                "kind": comp.kind,
                "name": comp.name,
                "slug": f"{comp.kind}.{slug(comp.name)}",
                "summary": comp.summary,
                "doc": comp.doc if comp.kind != "command" else comp.summary,
                "options": options,
                "options_class": comp.options.__name__ if comp.options is not None else None,
                "plugin": comp.plugin,
                "distribution": comp.distribution,
                "version": comp.version,
            })
    return out


def collect_plugins(manager: Any) -> list[dict[str, Any]]:
    """One dict per plugin (loaded or failed): name, version, distribution, hooks, components."""
    from ..plugins import list_plugins

    out = []
    for info in list_plugins(manager=manager):
        d = info.to_json()
        d["slug"] = slug(info.name)
        out.append(d)
    return out


def collect_docs(docs_dir: Path | None) -> list[dict[str, str]]:
    """The Markdown pages of ``docs_dir`` (name, title, text), guide pages first."""
    if docs_dir is None or not Path(docs_dir).is_dir():
        return []
    pages = {p.stem: p for p in sorted(Path(docs_dir).glob("*.md"))}
    order = [n for n in DOC_ORDER if n in pages] + sorted(n for n in pages if n not in DOC_ORDER)
    out = []
    for name in order:
        text = pages[name].read_text(encoding="utf-8")
        out.append({"name": name, "title": first_heading(text) or name.replace("-", " ").capitalize(),
                    "text": text})
    return out


def first_heading(text: str) -> str | None:
    """The text of the first ``# heading`` of a Markdown document (outside code fences)."""
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and re.match(r"^#\s+\S", line):
            return line[1:].strip().rstrip("#").strip()
    return None


def collect_catalog(
    *,
    manager: Any = None,
    registry: Any = None,
    runs: Iterable[Path] = (),
    docs_dir: Path | None = None,
) -> dict[str, Any]:
    """Everything the site shows, as JSON-ready data.

    ``manager`` defaults to the process-wide plugin manager; ``registry`` defaults to the
    registry built with that manager's plugin entries. ``runs`` are run directories (or folders
    holding them, searched recursively for ``record.json``).
    """
    from .. import __version__
    from ..plugins import get_manager, list_backbone_tables
    from ..registry import build_registry, get_registry

    if manager is None:
        manager = get_manager()
        if registry is None:
            registry = get_registry()
    if registry is None:
        registry = build_registry(plugin_tables=lambda: list_backbone_tables(manager=manager))
    records, warnings = collect_runs(runs)
    return {
        "version": __version__,
        "backbones": collect_backbones(registry),
        "components": collect_components(manager),
        "plugins": collect_plugins(manager),
        "runs": records,
        "leaderboards": leaderboards(records),
        "docs": collect_docs(docs_dir),
        "warnings": warnings,
    }
