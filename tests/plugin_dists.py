"""Test helper: fake installed distributions (a ``*.dist-info`` with ``entry_points.txt`` next to
plain modules) in a directory that a test puts on ``sys.path`` or ``PYTHONPATH``.

That is exactly what ``pip install`` leaves in site-packages, minus the copying.
"""

from __future__ import annotations

import pathlib
import textwrap

__all__ = ["BROKEN_IMPORT", "MISSPELLED_HOOK", "make_dist"]

BROKEN_IMPORT = '''
raise RuntimeError("this plugin is broken on purpose")
'''

MISSPELLED_HOOK = '''
from zoo.hookspecs import hookimpl

@hookimpl
def register_evalutors(register):  # misspelled on purpose: register_evaluators
    pass
'''


def make_dist(
    root: pathlib.Path,
    name: str,
    *,
    modules: dict[str, str],
    entry_points: dict[str, str],
    version: str = "0.1.0",
    group: str = "zoo",
) -> pathlib.Path:
    """Write modules ``{module: source}`` and a dist-info declaring ``{ep name: module}`` in ``group``."""
    root.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    lines = [f"[{group}]"] + [f"{ep} = {value}" for ep, value in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
