"""Builtin plugin: ``zoo plugins list|info|install|uninstall|doctor``.

This plugin is essential: ``ZOO_DISABLE_PLUGINS`` cannot disable it, so the doctor is always
there to explain what went wrong with the others.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._text import examples
from ..hookspecs import hookimpl

__all__ = ["configure", "run", "PIP_FLAGS"]

PIP_FLAGS: dict[str, str] = {
    "upgrade": "--upgrade",
    "force_reinstall": "--force-reinstall",
    "no_deps": "--no-deps",
    "no_index": "--no-index",
    "no_build_isolation": "--no-build-isolation",
    "no_cache_dir": "--no-cache-dir",
    "pre": "--pre",
}
"""``zoo plugins install`` flags passed through to ``pip install`` unchanged."""


def configure(parser: argparse.ArgumentParser) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser.epilog = examples("zoo plugins list", "zoo plugins info linear", "zoo plugins install zoo-knn-probe",
                             "zoo plugins doctor --json")
    sub = parser.add_subparsers(dest="plugins_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="installed plugins, their hooks and components", formatter_class=raw,
                       description="Third-party plugins, their hooks and components; builtins too with --all.",
                       epilog=examples("zoo plugins list", "zoo plugins list --all --json"))
    p.add_argument("--all", action="store_true", help="also list the builtin plugins")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("info", help="a plugin's components with their options and docs", formatter_class=raw,
                       epilog=examples("zoo plugins info zoo.default_plugins.heads", "zoo plugins info mlp --json"))
    p.add_argument("name", help="plugin name (see `zoo plugins list`) or component name")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("install", help="pip install plugins into zoo's environment", formatter_class=raw,
                       description="Run `pip install` with the Python that runs zoo.",
                       epilog=examples("zoo plugins install zoo-knn-probe",
                                       "zoo plugins install -e plugins/zoo-knn-probe --no-build-isolation"))
    p.add_argument("specs", nargs="+", metavar="SPEC", help="a requirement, path or URL, as pip takes it")
    p.add_argument("-e", "--editable", action="store_true", help="install a local directory in editable mode")
    for dest, flag in PIP_FLAGS.items():
        extra = ["-U"] if dest == "upgrade" else []
        p.add_argument(*extra, flag, dest=dest, action="store_true", help=f"pass {flag} to pip")
    p.add_argument("-f", "--find-links", action="append", default=[], metavar="URL_OR_DIR", help="pass to pip")
    p = sub.add_parser("uninstall", help="pip uninstall plugins from zoo's environment", formatter_class=raw,
                       epilog=examples("zoo plugins uninstall zoo-knn-probe -y"))
    p.add_argument("specs", nargs="+", metavar="NAME", help="distribution names")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p = sub.add_parser("doctor", help="check every plugin; show tracebacks of those that fail", formatter_class=raw,
                       epilog=examples("zoo plugins doctor", "zoo plugins doctor --json"))
    p.add_argument("--json", action="store_true", help="print the checks as JSON")


def run(args: argparse.Namespace) -> int:
    action = {"list": _list, "info": _info, "install": _install, "uninstall": _uninstall, "doctor": _doctor}
    return action[args.plugins_command](args)


# --- list / info ----------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from ..plugins import list_plugins

    infos = list_plugins()
    if not getattr(args, "all", False):
        infos = [i for i in infos if not i.builtin]
    infos.sort(key=lambda i: (i.builtin, i.name))  # third-party plugins first
    if args.json:
        print(json.dumps([i.to_json() for i in infos], indent=2))
        return 0
    if not infos:
        print("no third-party plugins installed (`zoo plugins list --all` shows the builtins too)")
    for info in infos:
        origin = f"{info.distribution or '-'} {info.version or ''}".strip()
        print(f"{info.name}  ({origin}{', builtin' if info.builtin else ''})")
        if info.error:
            print(f"  FAILED: {info.error}  (run `zoo plugins doctor`)")
            continue
        print(f"  hooks: {', '.join(info.hooks) or '(none)'}")
        for kind, names in info.components.items():
            print(f"  {kind}: {', '.join(names)}")
    return 0


def _component_json(comp: Any) -> dict:
    from ..plugins import describe_options

    return {
        "kind": comp.kind,
        "name": comp.name,
        "summary": comp.summary,
        "doc": comp.doc,
        "options": [{"name": o.name, "type": o.type, "default": _jsonable(o.default), "help": o.help}
                    for o in describe_options(comp.options)],
    }


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _print_component(comp: Any) -> None:
    from .._text import rst_to_plain
    from ..plugins import describe_options

    print(f"\n{comp.kind} {comp.name!r}: {rst_to_plain(comp.summary)}")
    rest = rst_to_plain(comp.doc.split("\n", 1)[1].strip()) if "\n" in comp.doc else ""
    for line in rest.splitlines():
        print(f"    {line}".rstrip())
    opts = describe_options(comp.options)
    if opts:
        print("  options:")
        for o in opts:
            print(f"    {o.name}: {o.type} = {o.default!r}  -- {o.help}")


def _info(args: argparse.Namespace) -> int:
    from ..errors import did_you_mean
    from ..plugins import KINDS, get_manager, list_plugins
    from ..plugins._components import contributions

    pm = get_manager()
    infos = {i.name: i for i in list_plugins(manager=pm)}
    comps = [c for kind in KINDS for c in contributions(pm, kind)]
    if args.name in infos:
        info = infos[args.name]
        mine = [c for c in comps if c.plugin == info.name]
        if args.json:
            print(json.dumps({**info.to_json(), "components": [_component_json(c) for c in mine]}, indent=2))
            return 0
        print(f"{info.name}  ({info.distribution or '-'} {info.version or ''})".replace(" )", ")"))
        if info.error:
            print(f"FAILED: {info.error}  (run `zoo plugins doctor`)")
            return 1
        print(f"hooks: {', '.join(info.hooks) or '(none)'}")
        for comp in mine:
            _print_component(comp)
        return 0
    named = [c for c in comps if c.name == args.name or f"{c.kind}:{c.name}" == args.name]
    if named:
        if args.json:
            print(json.dumps([{**_component_json(c), "plugin": c.plugin} for c in named], indent=2))
            return 0
        for comp in named:
            print(f"(from plugin {comp.plugin})", end="")
            _print_component(comp)
        return 0
    known = sorted(infos) + sorted({c.name for c in comps})
    print(f"zoo plugins info: error: no plugin or component named {args.name!r}.{did_you_mean(args.name, known)} "
          "Run `zoo plugins list`.", file=sys.stderr)
    return 1


# --- install / uninstall --------------------------------------------------------------------


def _pip(*pip_args: str) -> int:
    import subprocess

    cmd = [sys.executable, "-m", "pip", *pip_args]
    return subprocess.run(cmd).returncode


def _install(args: argparse.Namespace) -> int:
    flags = [flag for dest, flag in PIP_FLAGS.items() if getattr(args, dest, False)]
    for link in args.find_links:
        flags += ["--find-links", link]
    specs: list[str] = []
    for spec in args.specs:
        specs += ["--editable", spec] if args.editable else [spec]
    return _pip("install", *flags, *specs)


def _names_zoo(spec: str) -> bool:
    """Whether the pip argument ``spec`` names transferzoo itself (``transferzoo==0.1.0``, ``TransferZoo[x]>=0``)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        name = Requirement(spec).name
    except InvalidRequirement:
        name = spec
    return canonicalize_name(name.strip()) == "transferzoo"


def _uninstall(args: argparse.Namespace) -> int:
    mine = [s for s in args.specs if _names_zoo(s)]
    if mine:
        print(f"zoo plugins uninstall: error: refusing to uninstall transferzoo itself ({', '.join(mine)}); "
              "use `pip uninstall transferzoo` if you mean it.", file=sys.stderr)
        return 2
    return _pip("uninstall", *(["--yes"] if args.yes else []), *args.specs)


# --- doctor ---------------------------------------------------------------------------------


def _doctor_report(pm: Any, cfg: Any) -> dict[str, Any]:
    """Every check of ``zoo plugins doctor`` as plain data (its ``--json`` output)."""
    import pluggy

    from ..errors import ComponentCollisionError, ZooError
    from ..plugins import KINDS, list_plugins
    from ..plugins._components import backbone_tables, components
    from ..registry import build_registry

    infos = list_plugins(manager=pm, failed=False)  # collects every kind: hook failures are recorded
    problems: list[dict[str, str]] = []
    for kind in KINDS:
        try:
            components(pm, kind)
        except ComponentCollisionError as exc:
            problems.append({"kind": "collision", "message": str(exc)})
    try:  # plugin backbones: validated and merged with the registry files like `zoo list` does
        build_registry(plugin_tables=backbone_tables(pm), on_plugin_error=lambda plugin, exc: problems.append(
            {"kind": "backbone", "plugin": plugin, "message": f"{type(exc).__name__}: {exc}"}))
    except ZooError as exc:
        problems.append({"kind": "registry", "message": str(exc)})
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        problems.append({"kind": "invalid", "message": str(exc)})
    failed = {f.plugin for f in pm.failures}
    failures = []
    for failure in pm.failures:
        meta = pm.plugin_meta(failure.plugin)
        failures.append({"plugin": failure.plugin, "distribution": meta.distribution, "version": meta.version,
                         "message": failure.message, "traceback": failure.traceback})
    notes = []
    if cfg.load_plugins:
        from importlib import metadata

        installed = {ep.name for ep in metadata.entry_points(group="zoo")}
        notes = [f"ZOO_LOAD_PLUGINS names {name!r}, which is not installed"
                 for name in sorted(cfg.load_plugins - installed)]
    return {
        "settings": {
            "ZOO_PLUGINS_STRICT": int(cfg.plugins_strict),
            "ZOO_LOAD_PLUGINS": sorted(cfg.load_plugins) if cfg.load_plugins is not None else None,
            "ZOO_DISABLE_PLUGINS": sorted(cfg.disable_plugins),
        },
        "ok": [i.to_json() for i in infos if i.name not in failed],
        "skipped": dict(sorted(pm.skipped.items())),
        "failures": failures,
        "problems": problems,
        "notes": notes,
        "count": len(failures) + len(problems),
    }


def _doctor(args: argparse.Namespace) -> int:
    import dataclasses

    from ..config import settings
    from ..plugins import make_manager

    cfg = settings()
    report = _doctor_report(make_manager(settings=dataclasses.replace(cfg, plugins_strict=False)), cfg)
    if getattr(args, "json", False):
        print(json.dumps(report, indent=2))
        return 1 if report["count"] else 0
    st = report["settings"]
    allow = st["ZOO_LOAD_PLUGINS"]
    print(f"settings: ZOO_PLUGINS_STRICT={st['ZOO_PLUGINS_STRICT']}  "
          f"ZOO_LOAD_PLUGINS={','.join(allow) if allow is not None else '(all)'}  "
          f"ZOO_DISABLE_PLUGINS={','.join(st['ZOO_DISABLE_PLUGINS']) or '(none)'}")
    for info in report["ok"]:
        origin = f"{info['distribution'] or '-'} {info['version'] or ''}".strip()
        print(f"ok       {info['name']} ({origin}): {', '.join(info['hooks']) or 'no hooks'}")
    for name, why in report["skipped"].items():
        print(f"skipped  {name}: {why}")
    for f in report["failures"]:
        origin = f" ({f['distribution']} {f['version']})" if f["distribution"] else ""
        print(f"FAILED   {f['plugin']}{origin}: {f['message']}")
        for line in f["traceback"].rstrip().splitlines():
            print(f"    {line}")
    for p in report["problems"]:
        who = f"{p['plugin']}: " if "plugin" in p else ""
        print(f"{p['kind'].upper():<9} {who}{p['message']}")
    for note in report["notes"]:
        print(f"note     {note}")
    print(f"{report['count']} problem(s) found." if report["count"] else "no problems found.")
    return 1 if report["count"] else 0


@hookimpl
def register_commands(register):
    register("plugins", configure=configure, run=run,
             summary="List, inspect, install, uninstall and check plugins.")
