"""``python -m zoo.plugins ACTION ...``: the ``zoo plugins`` command without the rest of the CLI.

Useful when the main CLI cannot start; the same code runs as ``zoo plugins``.
"""

from __future__ import annotations

import argparse
import sys

from zoo.default_plugins import plugin_commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zoo plugins", description=plugin_commands.__doc__)
    plugin_commands.configure(parser)
    return plugin_commands.run(parser.parse_args(argv)) or 0


if __name__ == "__main__":
    sys.exit(main())
