# PYTHON_ARGCOMPLETE_OK
"""The ``zoo`` command line: sub-commands come from plugins (builtins included).

Start-up stays light (no torch import) so that ``zoo --help`` and ``zoo list`` are fast.

Errors: a user's mistake never shows a traceback. Every :class:`~zoo.errors.ZooError` and every
``OSError`` (a path that is a file, a folder that cannot be written) prints one line
``zoo: error: ...`` and exits 1; a usage error exits 2 (argparse); an unexpected exception
prints its type and message and says to rerun with ``--traceback``, which shows the full
traceback of any error. Shell completion: ``eval "$(register-python-argcomplete zoo)"``.
"""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Sequence

from .. import __version__
from .._text import examples
from ..errors import ZooError

__all__ = ["main", "build_parser", "version_text"]

_EPILOG = examples(
    "zoo list '*minilm*' --verified",
    "zoo pull all-minilm-l6-v2",
    "zoo run examples/banking77-probe.toml -s training.epochs=3",
    "zoo plugins doctor",
) + "\n\nRun `zoo COMMAND --help` for a command's options; `zoo plugins list` shows where each comes from."


def version_text() -> str:
    """zoo, torch, Python and platform versions (torch's from its metadata: nothing is imported)."""
    from importlib import metadata

    try:
        torch = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch = "not installed"
    return (f"transferzoo {__version__}\ntorch {torch}\nPython {platform.python_version()} "
            f"({sys.implementation.name})\nplatform {platform.platform()}")


class _VersionAction(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def build_parser(manager=None, *, warnings: list[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser with one sub-command per ``command`` component.

    A plugin command named like another command (a builtin wins), or whose ``configure`` raises,
    is left out; why is appended to ``warnings`` (printed by :func:`main`).
    """
    from ..plugins import get_manager
    from ..plugins._components import usable_components

    pm = manager if manager is not None else get_manager()
    notes = warnings if warnings is not None else []
    parser = argparse.ArgumentParser(
        prog="zoo",
        description="transferzoo: pinned, verified pretrained backbones and reproducible transfer experiments.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction, help="show zoo, torch, Python and platform versions")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    found, refused = usable_components(pm, "command")
    notes.extend(f"command refused: {err}" for err in refused)
    for name, comp in sorted(found.items()):
        try:  # on a scratch parser first: a broken configure must not leave a half-built command
            comp.obj.configure(argparse.ArgumentParser(prog=f"zoo {name}"))
        except Exception as exc:
            notes.append(f"plugin {comp.plugin!r}: command {name!r} left out, its configure() raised "
                         f"{type(exc).__name__}: {exc}")
            continue
        p = sub.add_parser(name, help=comp.summary, description=comp.summary,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        comp.obj.configure(p)
        p.set_defaults(_run=comp.obj.run)
    return parser


def _say(message: str) -> None:
    print(f"zoo: error: {message}", file=sys.stderr)


def _os_message(exc: OSError) -> str:
    if exc.strerror is None:  # raised with a message of its own: FileNotFoundError("... has no record.json")
        return str(exc)
    where = f" {exc.filename}" if exc.filename else ""
    return f"cannot use{where}: {exc.strerror}. Check the path and its permissions."


def _run(argv: list[str]) -> int:
    from .._progress import progress_enabled
    from ..plugins import format_failures, get_manager

    manager = get_manager()
    notes: list[str] = []
    parser = build_parser(manager, warnings=notes)  # collecting commands may record more plugin failures
    shown = len(manager.failures)
    for line in format_failures(manager):
        print(line, file=sys.stderr)
    for note in notes:
        print(f"zoo: warning: {note}", file=sys.stderr)
    import argcomplete

    argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    args._argv = argv  # the command line as given (`zoo run --nproc N` re-executes it under torchrun)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        with progress_enabled(not getattr(args, "quiet", False)):  # bars on a terminal, lines in a log
            return int(args._run(args) or 0)
    finally:  # failures recorded while the command ran (a plugin's backbone, hook, ...)
        for line in format_failures(manager)[shown:]:
            print(line, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoo`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in argv  # known before parsing: plugin loading can fail too
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `zoo list | head`
        return 0
    except ZooError as exc:
        if show_traceback:
            raise
        _say(str(exc))
        return 1
    except OSError as exc:
        if show_traceback:
            raise
        _say(_os_message(exc))
        return 1
    except Exception as exc:
        if show_traceback:
            raise
        _say(f"unexpected {type(exc).__name__}: {exc}")
        print("zoo: this is a bug in zoo or in a plugin; rerun with --traceback to see where, and report it.",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
