"""Plain-text output helpers shared by the commands."""

from __future__ import annotations

import re
from typing import Any, Sequence

__all__ = ["text_table", "examples", "rst_to_markdown", "rst_to_plain"]

_ROLE = re.compile(r":(?:class|func|mod|data|meth|exc|attr|obj|py:\w+):`(~?)([^`<]+?)(?:\s*<([^>]+)>)?`")


def _role_target(m: re.Match[str]) -> str:
    target = (m.group(3) or m.group(2)).strip()
    return target.rsplit(".", 1)[-1] if m.group(1) == "~" else target


def rst_to_markdown(text: str) -> str:
    """reST-flavoured docstring text to Markdown: ``code`` -> `code`, :role:`x` -> `x`, ``::`` -> ``:``."""
    text = _ROLE.sub(lambda m: f"`{_role_target(m)}`", text)
    return text.replace("``", "`").replace("::\n", ":\n")


def rst_to_plain(text: str) -> str:
    """reST-flavoured docstring text for a terminal: roles and inline literals become their bare names."""
    text = _ROLE.sub(_role_target, text)
    return re.sub(r"``([^`]+)``", r"\1", text).replace("::\n", ":\n")


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces, header first, no trailing blanks."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in [header, *rows])


def examples(*commands: str) -> str:
    """An ``argparse`` epilog listing example command lines (use with RawDescriptionHelpFormatter)."""
    return "examples:\n" + "\n".join(f"  {c}" for c in commands)
