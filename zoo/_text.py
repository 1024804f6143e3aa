"""Plain-text output helpers shared by the commands."""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["text_table", "examples"]


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces, header first, no trailing blanks."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in [header, *rows])


def examples(*commands: str) -> str:
    """An ``argparse`` epilog listing example command lines (use with RawDescriptionHelpFormatter)."""
    return "examples:\n" + "\n".join(f"  {c}" for c in commands)
