"""Acceptance: ``plugins/zoo-knn-probe`` installs with pip into a fresh virtual environment.

No network: the fresh venv is made ``--without-pip``; a ``.pth`` file adds this environment's
site-packages (zoo, torch, scikit-learn, pip, setuptools) with ``site.addsitedir``, so its own
``.pth`` files (zoo's editable install) work too. The plugin is then installed by zoo's own
``zoo plugins install --no-index --no-build-isolation`` from a copy of its source tree (so no
build artefacts land in the repository) into the fresh venv's site-packages only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from zoo.plugins import make_manager

PLUGIN_SRC = Path(__file__).resolve().parents[1] / "plugins" / "zoo-knn-probe"


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("fresh-venv")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    Path(purelib, "_zoo_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    source = root / "zoo-knn-probe"
    shutil.copytree(PLUGIN_SRC, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return python, Path(purelib), source


def run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    proc = subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_knn_probe_installs_into_a_fresh_venv_and_is_usable(fresh_venv):
    python, purelib, source = fresh_venv
    cwd = source.parent
    run(python, "-m", "zoo", "catalog", "build", "--out", "site-before", "--no-api", cwd=cwd)
    assert not (cwd / "site-before" / "components" / "evaluator.knn-probe.html").exists()
    run(python, "-m", "zoo", "plugins", "install", "--no-index", "--no-build-isolation", "--no-cache-dir",
        str(source), cwd=cwd)
    assert list(purelib.glob("zoo_knn_probe-0.1.0.dist-info"))  # installed into the fresh venv only
    assert make_manager().get_plugin("knn-probe") is None  # ... not into this environment

    listed = {p["name"]: p for p in json.loads(run(python, "-m", "zoo", "plugins", "list", "--json", cwd=cwd).stdout)}
    knn = listed["knn-probe"]
    assert knn["hooks"] == ["register_evaluators"]
    assert knn["components"] == {"evaluator": ["knn-probe"]}
    assert (knn["distribution"], knn["version"], knn["builtin"], knn["error"]) == ("zoo-knn-probe", "0.1.0", False, None)

    # the catalog's next build shows the plugin and its component, with no other change
    run(python, "-m", "zoo", "catalog", "build", "--out", "site-after", "--no-api", cwd=cwd)
    page = cwd / "site-after" / "components" / "evaluator.knn-probe.html"
    assert page.is_file() and "temperature" in page.read_text()
    assert any("knn-probe" in p.name for p in (cwd / "site-after" / "plugins").iterdir())

    info = run(python, "-m", "zoo", "plugins", "info", "knn-probe", cwd=cwd).stdout
    assert "temperature: float = 0.07" in info and "k: int = 20" in info

    use = textwrap.dedent("""
        from dataclasses import asdict
        from sklearn.datasets import load_digits
        from threadpoolctl import threadpool_limits
        from zoo.plugins import get_component, validate_options

        comp = get_component("evaluator", "knn-probe")
        probe = comp.obj(**asdict(validate_options(comp, {"k": 10, "temperature": 0.07})))
        X, y = load_digits(return_X_y=True)
        with threadpool_limits(1):
            print(comp.plugin, comp.distribution, probe.fit(X[:1200], y[:1200]).score(X[1200:], y[1200:]))
    """)
    plugin, dist, score = run(python, "-c", use, cwd=cwd).stdout.split()
    assert (plugin, dist) == ("knn-probe", "zoo-knn-probe") and float(score) > 0.9

    # the plugin's own tests, with zoo's conformance kit loaded through its pytest11 entry point
    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(source / "tests"), cwd=cwd)
    assert " passed" in tests.stdout and "failed" not in tests.stdout

    run(python, "-m", "zoo", "plugins", "uninstall", "-y", "zoo-knn-probe", cwd=cwd)
    listed = [p["name"] for p in json.loads(run(python, "-m", "zoo", "plugins", "list", "--json", cwd=cwd).stdout)]
    assert "knn-probe" not in listed
