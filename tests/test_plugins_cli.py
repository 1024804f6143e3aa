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
    rc, out, _ = run_main(capsys, "plugins", "list", "--all", "--json")
    assert rc == 0
    infos = {p["name"]: p for p in json.loads(out)}
    heads = infos["zoo.default_plugins.heads"]
    assert heads["hooks"] == ["register_heads"] and heads["components"] == {"head": ["linear", "mlp"]}
    assert heads["builtin"] is True and heads["distribution"] == "transferzoo" and heads["error"] is None


def test_plugins_list_human(capsys):
    rc, out, _ = run_main(capsys, "plugins", "list", "--all")
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


# --- plugins that collide with builtins, hang, or are named like them ----------------------

RUN_COMMAND = '''
from zoo.hookspecs import hookimpl

@hookimpl
def register_commands(register):
    register("run", configure=lambda p: None, run=lambda args: 0, summary="A plugin command named like a builtin.")
'''

SAME_BACKBONE = '''
from zoo.hookspecs import hookimpl

@hookimpl
def register_backbones(register):
    register({"name": "all-minilm-l6-v2", "repo_id": "someone/other", "revision": "0" * 40,
              "architecture": "bert", "modality": "text", "license": "mit", "num_params": 1, "embedding_dim": 384,
              "files": {"model.safetensors": "tofu"}, "integrity": "tofu"})
'''

HANGS = '''
import time
time.sleep(600)
'''


def test_a_plugin_command_named_like_a_builtin_is_refused_not_fatal(tmp_path):
    site = tmp_path / "site"
    make_dist(site, "zoo-runner-clash", modules={"run_clash": RUN_COMMAND}, entry_points={"clash": "run_clash"})
    proc = zoo("--help", site=site)
    assert proc.returncode == 0 and "reproduce" in proc.stdout
    assert "zoo: warning: command refused: command 'run' is registered by two plugins" in proc.stderr
    assert "'clash' (distribution zoo-runner-clash 0.1.0)" in proc.stderr
    assert "--no-sweep" in zoo("run", "--help", site=site).stdout  # the builtin `run` kept its name
    doctor = zoo("plugins", "doctor", site=site)
    assert doctor.returncode == 1 and "COLLISION command 'run'" in doctor.stdout and "Traceback" not in doctor.stderr


def test_a_plugin_backbone_colliding_with_the_registry_breaks_neither_list_nor_doctor(tmp_path):
    site = tmp_path / "site"
    make_dist(site, "zoo-same-backbone", modules={"same_backbone": SAME_BACKBONE},
              entry_points={"samebb": "same_backbone"})
    proc = zoo("list", site=site)
    assert proc.returncode == 0 and "sentence-transformers/all-MiniLM-L6-v2" in proc.stdout
    assert "zoo: plugin samebb failed to load: zoo.errors.RegistryCollisionError: backbone 'all-minilm-l6-v2'" in proc.stderr
    doctor = zoo("plugins", "doctor", "--json", site=site)
    report = json.loads(doctor.stdout)
    assert doctor.returncode == 1 and report["count"] >= 1
    assert any(p["kind"] == "backbone" and p["plugin"] == "samebb" and "all-minilm-l6-v2" in p["message"]
               for p in report["problems"])


def test_an_entry_point_named_like_a_builtin_gets_a_clear_message(tmp_path):
    site = tmp_path / "site"
    make_dist(site, "zoo-shadow", modules={"shadow_heads": SAME_HEAD},
              entry_points={"zoo.default_plugins.heads": "shadow_heads", "again": "zoo.default_plugins.freezing"})
    proc = zoo("list", site=site)
    assert proc.returncode == 0 and "<module" not in proc.stderr and "{" not in proc.stderr
    assert "entry point name 'zoo.default_plugins.heads' is already the name of a loaded plugin" in proc.stderr
    assert "already registered as 'zoo.default_plugins.freezing'" in proc.stderr


def test_a_plugin_that_hangs_at_import_does_not_hang_help(tmp_path):
    import time

    site = tmp_path / "site"
    make_dist(site, "zoo-slow", modules={"slow_plugin": HANGS}, entry_points={"slow": "slow_plugin"})
    start = time.monotonic()
    proc = zoo("--help", site=site, ZOO_PLUGIN_TIMEOUT="1")
    assert proc.returncode == 0 and "commands" in proc.stdout
    assert time.monotonic() - start < 60
    assert "plugin 'slow' (slow_plugin) did not finish importing within 1 s" in proc.stderr
    assert "ZOO_DISABLE_PLUGINS=slow" in proc.stderr


@pytest.mark.parametrize("spec", ["transferzoo==0.1.0", "TransferZoo[catalog]>=0", "TRANSFERZOO", " transferzoo ", "transferzoo; python_version>'3'"])
def test_uninstall_refuses_any_requirement_naming_the_zoo(capsys, monkeypatch, spec):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    rc, _, err = run_main(capsys, "plugins", "uninstall", "-y", "zoo-knn-probe", spec)
    assert rc == 2 and "refusing to uninstall transferzoo" in err and calls == []


def test_plugins_list_shows_third_party_plugins_and_builtins_only_with_all(capsys, tmp_path, monkeypatch):
    site = tmp_path / "site"
    make_dist(site, "zoo-same", modules={"third_party": RUN_COMMAND.replace('"run"', '"hello"')},
              entry_points={"third": "third_party"})
    proc = zoo("plugins", "list", "--json", site=site)
    assert [p["name"] for p in json.loads(proc.stdout)] == ["third"]
    listed = [p["name"] for p in json.loads(zoo("plugins", "list", "--all", "--json", site=site).stdout)]
    assert listed[0] == "third" and "zoo.default_plugins.heads" in listed
