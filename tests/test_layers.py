"""The layering of zoo/ (pyproject.toml's [tool.importlinter] contracts), checked with import-linter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(config: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--config", str(config), "--no-cache"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_layers_hold_and_no_package_has_an_import_cycle():
    res = lint_imports(ROOT / "pyproject.toml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Contracts: 2 kept, 0 broken." in res.stdout


def test_the_check_sees_an_upward_import(tmp_path):
    """The same check with two layers swapped fails, naming an import that crosses them."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    swapped = text.replace('    "zoo.runner",\n    "zoo.compress | zoo.probes",\n',
                           '    "zoo.compress | zoo.probes",\n    "zoo.runner",\n')
    assert swapped != text
    config = tmp_path / "pyproject.toml"
    config.write_text(swapped, encoding="utf-8")
    res = lint_imports(config)
    assert res.returncode != 0 and "zoo.runner" in res.stdout and "BROKEN" in res.stdout


def test_no_function_of_the_runner_is_longer_than_sixty_lines():
    """The runner stays a composition of small stages (the engine issue's bound)."""
    import ast

    long = []
    for path in sorted((ROOT / "zoo" / "runner").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []
