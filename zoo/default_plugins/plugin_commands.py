"""Builtin plugin: ``zoo plugins list|info|install|uninstall|doctor``.

This plugin is essential: ``ZOO_DISABLE_PLUGINS`` cannot disable it, so the doctor is always
there to explain what went wrong with the others.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

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
    sub = parser.add_subparsers(dest="plugins_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="installed plugins, their hooks and components")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("info", help="a plugin's components with their options and docs")
    p.add_argument("name", help="plugin name (see `zoo plugins list`) or component name")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("install", help="pip install plugins into zoo's environment",
                       description="Run `pip install` with the Python that runs zoo.")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="a requirement, path or URL, as pip takes it")
    p.add_argument("-e", "--editable", action="store_true", help="install a local directory in editable mode")
    for dest, flag in PIP_FLAGS.items():
        extra = ["-U"] if dest == "upgrade" else []
        p.add_argument(*extra, flag, dest=dest, action="store_true", help=f"pass {flag} to pip")
    p.add_argument("-f", "--find-links", action="append", default=[], metavar="URL_OR_DIR", help="pass to pip")
    p = sub.add_parser("uninstall", help="pip uninstall plugins from zoo's environment")
    p.add_argument("specs", nargs="+", metavar="NAME", help="distribution names")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    sub.add_parser("doctor", help="check every plugin; show tracebacks of those that fail")


def run(args: argparse.Namespace) -> int:
    action = {"list": _list, "info": _info, "install": _install, "uninstall": _uninstall, "doctor": _doctor}
    return action[args.plugins_command](args)


# --- list / info ----------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from ..plugins import list_plugins

    infos = list_plugins()
    if args.json:
        print(json.dumps([i.to_json() for i in infos], indent=2))
        return 0
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
    print(f"zoo plugins info: no plugin or component named {args.name!r}.{did_you_mean(args.name, known)} "
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


def _uninstall(args: argparse.Namespace) -> int:
    if any(s.lower().replace("_", "-") == "transferzoo" for s in args.specs):
        print("zoo plugins uninstall: refusing to uninstall transferzoo itself; use pip.", file=sys.stderr)
        return 2
    return _pip("uninstall", *(["--yes"] if args.yes else []), *args.specs)


# --- doctor ---------------------------------------------------------------------------------


def _doctor(args: argparse.Namespace) -> int:
    import dataclasses

    import pluggy

    from ..config import settings
    from ..errors import ComponentCollisionError
    from ..plugins import KINDS, list_plugins, make_manager
    from ..plugins._components import components

    cfg = settings()
    pm = make_manager(settings=dataclasses.replace(cfg, plugins_strict=False))
    infos = list_plugins(manager=pm, failed=False)  # collects every kind: hook failures are recorded
    problems = 0
    print(f"settings: ZOO_PLUGINS_STRICT={int(cfg.plugins_strict)}  "
          f"ZOO_LOAD_PLUGINS={','.join(sorted(cfg.load_plugins)) if cfg.load_plugins is not None else '(all)'}  "
          f"ZOO_DISABLE_PLUGINS={','.join(sorted(cfg.disable_plugins)) or '(none)'}")
    failed = {f.plugin for f in pm.failures}
    for info in infos:
        if info.name in failed:
            continue
        origin = f"{info.distribution or '-'} {info.version or ''}".strip()
        print(f"ok       {info.name} ({origin}): {', '.join(info.hooks) or 'no hooks'}")
    for name, why in sorted(pm.skipped.items()):
        print(f"skipped  {name}: {why}")
    for failure in pm.failures:
        problems += 1
        meta = pm.plugin_meta(failure.plugin)
        origin = f" ({meta.distribution} {meta.version})" if meta.distribution else ""
        print(f"FAILED   {failure.plugin}{origin}: {failure.message}")
        for line in failure.traceback.rstrip().splitlines():
            print(f"    {line}")
    for kind in KINDS:
        try:
            components(pm, kind)
        except ComponentCollisionError as exc:
            problems += 1
            print(f"COLLISION {exc}")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        problems += 1
        print(f"INVALID  {exc}")
    if cfg.load_plugins:
        from importlib import metadata

        installed = {ep.name for ep in metadata.entry_points(group="zoo")}
        for name in sorted(cfg.load_plugins - installed):
            print(f"note     ZOO_LOAD_PLUGINS names {name!r}, which is not installed")
    print(f"{problems} problem(s) found." if problems else "no problems found.")
    return 1 if problems else 0


@hookimpl
def register_commands(register):
    register("plugins", configure=configure, run=run,
             summary="List, inspect, install, uninstall and check plugins.")
