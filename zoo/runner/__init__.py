"""The experiment runner: recipes in, reproducible recorded runs out.

``load_recipe`` validates a TOML recipe; ``plan`` describes what it would do; ``run_recipe``
runs it into a run directory; ``reproduce`` re-runs a run directory and compares; ``run_sweep``
runs a ``[sweep]``. Importing this package is cheap: torch is imported when a run starts.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Recipe",
    "load_recipe",
    "recipe_from_dict",
    "plan",
    "Plan",
    "run_recipe",
    "run_file",
    "RunResult",
    "reproduce",
    "ReproduceResult",
    "run_sweep",
    "SweepResult",
]

_LAZY = {
    "Recipe": "recipe",
    "load_recipe": "recipe",
    "recipe_from_dict": "recipe",
    "plan": "plan",
    "Plan": "plan",
    "run_recipe": "run",
    "run_file": "run",
    "RunResult": "run",
    "reproduce": "reproduce",
    "ReproduceResult": "reproduce",
    "run_sweep": "sweep",
    "SweepResult": "sweep",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
