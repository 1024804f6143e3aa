"""Builtin plugin: ``zoo catalog build|serve``, the documentation site with the catalog.

Nothing heavy is imported at module level (no torch, no Sphinx): the catalog code is imported
when the command runs. Without the documentation stack (``pip install "transferzoo[catalog]"``)
both commands stop with a one-line :class:`~zoo.errors.MissingExtraError` saying how to
install it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .._text import examples
from ..hookspecs import hookimpl

__all__ = ["configure", "run", "register_commands", "DEFAULT_OUT"]

DEFAULT_OUT = Path("site")
"""Where ``zoo catalog build`` writes by default (relative to the working directory)."""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                   help=f"the site folder (default: ./{DEFAULT_OUT}); replaced atomically on each build")
    p.add_argument("--runs", type=Path, nargs="+", action="extend", metavar="DIR",
                   help="run directories, or folders of them, to take results from "
                        "(default: ./runs and $ZOO_HOME/runs where they exist)")
    p.add_argument("--docs", type=Path, metavar="DIR",
                   help="folder of Markdown guide pages (default: the checkout's docs/, if any)")
    p.add_argument("--no-api", action="store_true", help="leave out the API reference (a faster build)")
    p.add_argument("--verbose", action="store_true", help="print every Sphinx warning")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = examples("zoo catalog build --out site", "zoo catalog serve --port 8000", "zoo catalog build --json")
    sub = parser.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="build the static site", description="Build the documentation site with "
                       "Sphinx: the user guide, the API reference, and a page for every backbone, component, "
                       "plugin and run, with leaderboards. Needs pip install \"transferzoo[catalog]\".",
                       epilog=examples("zoo catalog build", "zoo catalog build --runs runs --out site",
                                       "zoo catalog build --no-api   # faster, without the API reference"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(b)
    b.add_argument("--json", action="store_true", help="print what was built as JSON")
    s = sub.add_parser("serve", help="build the site and serve it on 127.0.0.1",
                       description="Build the catalog (unless --no-build) and serve it on 127.0.0.1.")
    _common(s)
    s.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default: 8000; 0 picks a free one)")
    s.add_argument("--no-build", action="store_true", help="serve the folder as it is")


def _default_runs() -> list[Path]:
    from ..config import settings

    return [p for p in (Path("runs"), settings().zoo_home / "runs") if p.is_dir()]


def _build(args: argparse.Namespace) -> int:
    from ..catalog import build_site, check_links, default_docs_dir

    runs = args.runs if args.runs is not None else _default_runs()
    docs = args.docs if args.docs is not None else default_docs_dir()
    if docs is not None and not docs.is_dir():
        print(f"zoo catalog: error: --docs {docs}: no such folder", file=sys.stderr)
        return 2
    if args.out.exists() and (args.out.is_symlink() or not args.out.is_dir()):  # before minutes of building
        print(f"zoo catalog: error: --out {args.out} exists and is not a folder; choose another --out.",
              file=sys.stderr)
        return 2
    report = build_site(args.out, runs=runs, docs_dir=docs, api=not args.no_api)
    for warning in report.warnings:
        print(f"zoo catalog: warning: {warning}", file=sys.stderr)
    if args.verbose:
        for warning in report.sphinx_warnings:
            print(f"zoo catalog: sphinx: {warning}", file=sys.stderr)
    elif report.sphinx_warnings:
        print(f"zoo catalog: {len(report.sphinx_warnings)} Sphinx warning(s); --verbose prints them", file=sys.stderr)
    broken = check_links(report.out)
    for item in broken:
        print(f"zoo catalog: broken link: {item}", file=sys.stderr)
    c = report.counts
    if getattr(args, "json", False):
        print(json.dumps({"out": str(report.out), "pages": len(report.pages), "counts": dict(c),
                          "warnings": list(report.warnings), "sphinx_warnings": len(report.sphinx_warnings),
                          "broken_links": [str(b) for b in broken]}, indent=2))
        return 1 if broken else 0
    print(f"built {len(report.pages)} pages in {report.out}: {c['backbones']} backbones, {c['components']} "
          f"components, {c['plugins']} plugins, {c['runs']} runs in {c['leaderboards']} leaderboards, "
          f"{c['docs']} guide pages")
    print(f"open {report.out / 'index.html'}, or run `zoo catalog serve --out {os.fspath(args.out)}`")
    return 1 if broken else 0


def _serve(args: argparse.Namespace) -> int:
    from ..catalog import serve

    if not args.no_build:
        status = _build(args)
        if status:
            return status
    elif not (args.out / "index.html").is_file():
        print(f"zoo catalog: error: {args.out} holds no built catalog; run `zoo catalog build --out {args.out}`",
              file=sys.stderr)
        return 2
    serve(args.out, port=args.port)
    return 0


def run(args: argparse.Namespace) -> int:
    return {"build": _build, "serve": _serve}[args.catalog_command](args)


@hookimpl
def register_commands(register) -> None:
    register("catalog", configure=configure, run=run,
             summary="Build or serve the browsable catalog of backbones, components, plugins and results.")
