"""Usage snippets shown in the catalog and the generated reference: Python, CLI, recipe TOML.

The recipe layout (``zoo run``, :mod:`zoo.runner.recipe`) is written here in one place: a
``[backbone]`` table, a ``[data]`` table naming a dataset ``loader`` with ``[data.options]``,
``[head]`` and ``[freezing]`` tables with ``name`` and ``[KIND.options]``, and lists of tables
``[[compression]]`` and ``[[evaluators]]``.
"""

from __future__ import annotations

from typing import Any

from .._toml import inline as _value, key as _key

__all__ = ["python_snippet", "cli_snippet", "recipe_snippet", "component_toml", "toml_value", "RECIPE_TABLES"]

RECIPE_TABLES: dict[str, tuple[str, str, bool]] = {
    "dataset": ("data", "loader", False),
    "head": ("head", "name", False),
    "freezing": ("freezing", "name", False),
    "compression": ("compression", "name", True),
    "evaluator": ("evaluators", "name", True),
}
"""Component kind -> (recipe table, key naming the component, whether it is a list of tables)."""


def toml_value(value: Any) -> str:
    """A JSON-ready value written as TOML."""
    try:
        return _value(value)
    except TypeError:
        return _value(str(value))


def python_snippet(name: str) -> str:
    """Load a backbone and embed text with the Python API."""
    return (
        "import zoo\n\n"
        f'entry = zoo.backbone_info("{name}")   # the registry entry: repo, commit, hashes, licence\n'
        f'model = zoo.load_backbone("{name}")   # resolves the pinned commit, checks every sha256\n'
        'vectors = model.encode(["a first sentence", "a second one"])\n'
    )


def cli_snippet(name: str) -> str:
    """Inspect, download and verify a backbone from the shell."""
    return f"zoo info {name}\nzoo pull {name}      # download at the pinned commit and verify\nzoo verify {name}\n"


def recipe_snippet(name: str, modality: str = "text") -> str:
    """A minimal recipe that probes backbone ``name`` (``zoo run RECIPE``): on a CSV dataset for a
    text backbone, on folders of images (one sub-folder per class) for an image backbone."""
    if modality == "image":
        data = ('[data]\nloader = "image-folder"\n\n'
                "[data.options]            # folders are relative to the recipe: train/<class>/<image>\n"
                'train_dir = "train"\ntest_dir = "test"\n\n')
    else:
        data = ('[data]\nloader = "csv"\n\n'
                "[data.options]            # files are relative to the recipe\n"
                'train = "train.csv"\ntest = "test.csv"\n\n')
    return (f"name = {toml_value(name + '-probe')}\n\n[backbone]\nname = {toml_value(name)}\n\n" + data
            + '[[evaluators]]\nname = "logistic-probe"\n')


def component_toml(kind: str, name: str, options: list[dict[str, Any]]) -> str:
    """The recipe table that selects component ``name``, with every option at its default.

    Options whose default is none are shown commented out (TOML has no null).
    """
    table, key, is_list = RECIPE_TABLES[kind]
    lines = [f"[[{table}]]" if is_list else f"[{table}]", f"{key} = {toml_value(name)}"]
    if options:
        lines += ["", f"[{table}.options]"]
        for opt in options:
            if opt["default"] is None:
                lines.append(f"# {_key(opt['name'])} = ...   (default: none)")
            else:
                lines.append(f"{_key(opt['name'])} = {toml_value(opt['default'])}")
    return "\n".join(lines) + "\n"
