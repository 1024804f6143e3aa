"""``zoo plugins ...`` and the CLI's behaviour with broken, strict and colliding plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from plugin_dists import BROKEN_IMPORT, MISSPELLED_HOOK, make_dist
from zoo.cli.main import main
from zoo.plugins import _loading

SAME_HEAD = '''
from zoo.hookspecs import hookimpl

def build(in_features, num_classes, options=None):
    """A head named like a builtin."""

@hookimpl
def register_heads(register):
    register("linear", build)
'''


@pytest.fixture(autouse=True)
def fresh_manager(monkeypatch):
    """Each test builds the process-wide manager from its own environment."""
    monkeypatch.setattr(_loading, "_MANAGER", None)


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        rc = main(list(argv))
    except SystemExit as exc:  # argparse --help / usage errors
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def zoo(*argv: str, site=None, **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, **env)
    if site is not None:
        environ["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, "-m", "zoo", *argv], env=environ, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def broken_site(tmp_path):
    site = tmp_path / "site"
    make_dist(site, "zoo-broken", modules={"broken_plugin": BROKEN_IMPORT, "misspelled_plugin": MISSPELLED_HOOK},
              entry_points={"broken": "broken_plugin", "misspelled": "misspelled_plugin"})
    return site


# --- in process -------------------------------------------------------------------------


def test_plugins_list_json(capsys):
    rc, out, _ = run_main(capsys, "plugins", "list", "--json")
    assert rc == 0
    infos = {p["name"]: p for p in json.loads(out)}
    heads = infos["zoo.default_plugins.heads"]
    assert heads["hooks"] == ["register_heads"] and heads["components"] == {"head": ["linear", "mlp"]}
    assert heads["builtin"] is True and heads["distribution"] == "transferzoo" and heads["error"] is None


def test_plugins_list_human(capsys):
    rc, out, _ = run_main(capsys, "plugins", "list")
    assert rc == 0
    assert "zoo.default_plugins.freezing  (transferzoo" in out and "freezing: all-but-head, bitfit" in out


def test_plugins_info_shows_components_options_and_docs(capsys):
    rc, out, _ = run_main(capsys, "plugins", "info", "zoo.default_plugins.freezing")
    assert rc == 0
    assert "freezing 'first-k': Freeze the embeddings" in out
    assert "k: int = 6  -- number of encoder layers to freeze" in out
    rc, out, _ = run_main(capsys, "plugins", "info", "mlp", "--json")
    (comp,) = json.loads(out)
    assert comp["plugin"] == "zoo.default_plugins.heads"
    assert {"name": "layers", "type": "int", "default": 1, "help": "number of hidden layers (at least 1)"} in comp[
        "options"]
    rc, out, err = run_main(capsys, "plugins", "info", "lineer")
    assert rc == 1 and "Did you mean: 'linear'" in err


def test_install_and_uninstall_wrap_pip_in_this_environment(capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    assert run_main(capsys, "plugins", "install", "-U", "--no-deps", "-e", "plugins/zoo-knn-probe")[0] == 0
    assert calls[-1] == [sys.executable, "-m", "pip", "install", "--upgrade", "--no-deps",
                         "--editable", "plugins/zoo-knn-probe"]
    assert run_main(capsys, "plugins", "install", "--no-index", "-f", "wheels", "zoo-knn-probe==0.1.0")[0] == 0
    assert calls[-1][4:] == ["--no-index", "--find-links", "wheels", "zoo-knn-probe==0.1.0"]
    assert run_main(capsys, "plugins", "uninstall", "-y", "zoo-knn-probe")[0] == 0
    assert calls[-1] == [sys.executable, "-m", "pip", "uninstall", "--yes", "zoo-knn-probe"]
    rc, _, err = run_main(capsys, "plugins", "uninstall", "transferzoo")
    assert rc == 2 and "refusing" in err and len(calls) == 3


def test_doctor_on_a_healthy_install(capsys):
    rc, out, _ = run_main(capsys, "plugins", "doctor")
    assert rc == 0 and "no problems found." in out
    assert "ok       zoo.default_plugins.heads (transferzoo" in out


# --- a real `zoo` process with broken plugins installed through entry points -------------


def test_help_and_list_still_work_and_name_the_broken_plugins(broken_site):
    for argv in (["--help"], ["list"]):
        proc = zoo(*argv, site=broken_site)
        assert proc.returncode == 0, proc.stderr
        assert "zoo: plugin broken failed to load: RuntimeError: this plugin is broken on purpose; " \
               "run `zoo plugins doctor`" in proc.stderr
        assert "zoo: plugin misspelled failed to load:" in proc.stderr and "register_evalutors" in proc.stderr
    assert "plugins" in zoo("--help", site=broken_site).stdout
    assert "all-minilm-l6-v2" in zoo("list", site=broken_site).stdout


def test_doctor_shows_the_tracebacks(broken_site):
    proc = zoo("plugins", "doctor", site=broken_site)
    assert proc.returncode == 1
    assert "FAILED   broken (zoo-broken 0.1.0): RuntimeError: this plugin is broken on purpose" in proc.stdout
    assert "Traceback (most recent call last)" in proc.stdout and 'broken_plugin.py", line 2' in proc.stdout
    assert "FAILED   misspelled" in proc.stdout and "Did you mean: 'register_evaluators'" in proc.stdout
    assert "2 problem(s) found." in proc.stdout
    alone = subprocess.run([sys.executable, "-m", "zoo.plugins", "doctor"], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=str(broken_site)))
    assert alone.returncode == 1 and "FAILED   broken" in alone.stdout  # works without the main CLI


def test_strict_mode_fails_with_a_nonzero_exit(broken_site):
    proc = zoo("list", site=broken_site, ZOO_PLUGINS_STRICT="1")
    assert proc.returncode != 0
    assert "'broken'" in proc.stderr and "ZOO_PLUGINS_STRICT=1" in proc.stderr
    assert "this plugin is broken on purpose" in proc.stderr


def test_disabling_the_broken_plugins_silences_them(broken_site):
    proc = zoo("list", site=broken_site, ZOO_DISABLE_PLUGINS="broken,misspelled")
    assert proc.returncode == 0 and proc.stderr == ""


def test_doctor_names_both_plugins_of_a_collision(tmp_path):
    site = tmp_path / "site"
    make_dist(site, "zoo-same", modules={"same_head": SAME_HEAD}, entry_points={"same": "same_head"})
    proc = zoo("plugins", "doctor", site=site)
    assert proc.returncode == 1
    assert "COLLISION head 'linear' is registered by two plugins: 'zoo.default_plugins.heads'" in proc.stdout
    assert "'same' (distribution zoo-same 0.1.0)" in proc.stdout
