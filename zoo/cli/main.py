"""The ``zoo`` command line: sub-commands come from plugins (builtins included).

Start-up stays light (no torch import) so that ``zoo --help`` and ``zoo list`` are fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .. import __version__
from ..errors import ZooError

__all__ = ["main", "build_parser"]


def build_parser(manager=None) -> argparse.ArgumentParser:
    """The argument parser with one sub-command per ``command`` component."""
    from ..plugins import list_components

    parser = argparse.ArgumentParser(
        prog="zoo",
        description="transferzoo: pinned, verified pretrained backbones and reproducible transfer experiments.",
        epilog="Run `zoo COMMAND --help` for a command's options; `zoo plugins list` shows where each comes from.",
    )
    parser.add_argument("--version", action="version", version=f"transferzoo {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for comp in sorted(list_components("command", manager=manager), key=lambda c: c.name):
        p = sub.add_parser(comp.name, help=comp.summary, description=comp.summary)
        comp.obj.configure(p)
        p.set_defaults(_run=comp.obj.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoo`` console script; returns the exit status."""
    from ..plugins import format_failures, get_manager

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        manager = get_manager()
        parser = build_parser(manager)  # collecting commands may record more plugin failures
    except ZooError as exc:  # strict mode and a plugin failed, or two plugins claim one command
        print(f"zoo: error: {exc}", file=sys.stderr)
        return 1
    for line in format_failures(manager):
        print(line, file=sys.stderr)
    args = parser.parse_args(argv)
    args._argv = argv  # the command line as given (`zoo run --nproc N` re-executes it under torchrun)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except ZooError as exc:
        if args.traceback:
            raise
        print(f"zoo {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `zoo list | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
