"""The plugin manager: builtins, entry points, validation, broken plugins, strict mode, allow/deny lists."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types

import pluggy
import pytest

from plugin_dists import BROKEN_IMPORT, MISSPELLED_HOOK, make_dist
from zoo.config import settings
from zoo.errors import PluginLoadError
from zoo.hookspecs import hookimpl
from zoo.plugins import DEFAULT_PLUGINS, get_manager, list_components, load_failures, make_manager
from zoo.plugins import format_failures, list_plugins

GOOD = '''
from dataclasses import dataclass, field
from zoo.hookspecs import hookimpl

@dataclass(frozen=True)
class Opts:
    width: int = field(default=3, metadata={"help": "a width"})

def build(in_features, num_classes, options=None):
    """A head from a third-party plugin."""

@hookimpl
def register_heads(register):
    register("good-head", build, options=Opts)
'''


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory on sys.path where tests 'install' fake distributions; their modules are forgotten after."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield root
    for name in set(sys.modules) - before:
        if name.startswith(("good_", "broken_", "misspelled_", "other_")):
            del sys.modules[name]


def _module(name: str, **functions) -> types.ModuleType:
    mod = types.ModuleType(name)
    for fname, fn in functions.items():
        setattr(mod, fname, fn)
    return mod


def test_builtins_are_registered_like_plugins():
    pm = make_manager(entry_points=False)
    names = {name for name, _ in pm.list_name_plugin()}
    for module in ("heads", "freezing", "probes", "plugin_commands"):
        assert f"zoo.default_plugins.{module}" in names
    meta = pm.plugin_meta("zoo.default_plugins.heads")
    assert (meta.distribution, meta.builtin) == ("transferzoo", True)
    assert pm.hook_names("zoo.default_plugins.heads") == ["register_heads"]
    assert "bert_text" in DEFAULT_PLUGINS and "registry_commands" in DEFAULT_PLUGINS


def test_a_missing_builtin_module_is_a_load_failure_not_a_crash():
    pm = make_manager(builtins=("heads", "no_such_builtin"), entry_points=False)
    assert [f.plugin for f in load_failures(pm)] == ["zoo.default_plugins.no_such_builtin"]
    assert "ModuleNotFoundError" in load_failures(pm)[0].traceback
    assert [c.name for c in list_components("head", manager=pm)] == ["linear", "mlp"]


def test_misspelled_hook_is_refused_at_registration_with_a_suggestion():
    mod = _module("typo_plugin", register_evalutors=hookimpl(lambda register: None))
    pm = make_manager(builtins=False, entry_points=False)
    with pytest.raises(pluggy.PluginValidationError, match="unknown hook 'register_evalutors'.*register_evaluators"):
        pm.register(mod, "typo")
    assert pm.get_plugin("typo") is None
    pm.check_pending()  # nothing half-registered


def test_hook_function_without_hookimpl_is_refused():
    def register_heads(register):
        pass

    pm = make_manager(builtins=False, entry_points=False)
    with pytest.raises(pluggy.PluginValidationError, match="lacks @hookimpl"):
        pm.register(_module("forgetful", register_heads=register_heads), "forgetful")


def test_hookimpl_arguments_are_checked_against_the_spec():
    def register_heads(register, extra):
        pass

    pm = make_manager(builtins=False, entry_points=False)
    with pytest.raises(pluggy.PluginValidationError, match="extra"):
        pm.register(_module("bad_args", register_heads=hookimpl(register_heads)), "bad-args")


def test_entry_point_plugins_load_with_their_distribution(site):
    make_dist(site, "zoo-good", modules={"good_plugin": GOOD}, entry_points={"good": "good_plugin"}, version="1.2.3")
    pm = make_manager()
    assert pm.failures == []
    comp = {c.name: c for c in list_components("head", manager=pm)}["good-head"]
    assert (comp.plugin, comp.distribution, comp.version) == ("good", "zoo-good", "1.2.3")
    info = {i.name: i for i in list_plugins(manager=pm)}["good"]
    assert info.hooks == ("register_heads",) and info.components == {"head": ("good-head",)}
    assert not info.builtin


def test_broken_plugins_are_reported_and_the_rest_still_works(site):
    make_dist(site, "zoo-broken", modules={"broken_plugin": BROKEN_IMPORT, "misspelled_plugin": MISSPELLED_HOOK},
              entry_points={"broken": "broken_plugin", "misspelled": "misspelled_plugin"})
    make_dist(site, "zoo-good", modules={"good_plugin": GOOD}, entry_points={"good": "good_plugin"})
    pm = make_manager()
    failures = {f.plugin: f for f in load_failures(pm)}
    assert set(failures) == {"broken", "misspelled"}
    assert "RuntimeError: this plugin is broken on purpose" in failures["broken"].traceback
    assert "Traceback" in failures["broken"].traceback
    assert "register_evalutors" in failures["misspelled"].message
    assert "good-head" in [c.name for c in list_components("head", manager=pm)]
    lines = format_failures(pm)
    assert lines[0].startswith("zoo: plugin broken failed to load: RuntimeError")
    assert lines[0].endswith("run `zoo plugins doctor`")
    failed = {i.name: i for i in list_plugins(manager=pm)}["broken"]
    assert failed.error and failed.distribution == "zoo-broken"


def test_strict_mode_turns_a_failure_into_an_error(site, monkeypatch):
    make_dist(site, "zoo-broken", modules={"broken_plugin": BROKEN_IMPORT}, entry_points={"broken": "broken_plugin"})
    monkeypatch.setenv("ZOO_PLUGINS_STRICT", "1")
    with pytest.raises(PluginLoadError, match="'broken' failed to load.*ZOO_PLUGINS_STRICT") as info:
        make_manager()
    assert "RuntimeError: this plugin is broken on purpose" in str(info.value)
    assert info.value.plugin == "broken"


def test_a_hook_that_raises_loses_its_contributions_only(site):
    make_dist(site, "zoo-other", entry_points={"other": "other_plugin"}, modules={"other_plugin": '''
from zoo.hookspecs import hookimpl

@hookimpl
def register_heads(register):
    register("half-registered", lambda i, n, o=None: None, summary="never seen")
    raise ValueError("boom in register_heads")
'''})
    pm = make_manager()
    names = [c.name for c in list_components("head", manager=pm)]
    assert names == ["linear", "mlp"]
    assert "ValueError: boom in register_heads" in load_failures(pm)[0].traceback
    assert "while calling register_heads()" in load_failures(pm)[0].traceback


def test_allow_and_deny_lists(site):
    make_dist(site, "zoo-good", modules={"good_plugin": GOOD}, entry_points={"good": "good_plugin"})
    make_dist(site, "zoo-broken", modules={"broken_plugin": BROKEN_IMPORT}, entry_points={"broken": "broken_plugin"})
    base = settings()
    allow = make_manager(settings=dataclasses.replace(base, load_plugins=frozenset({"good"})))
    assert allow.failures == [] and allow.get_plugin("good") is not None
    assert allow.skipped["broken"] == "not in ZOO_LOAD_PLUGINS"
    none = make_manager(settings=dataclasses.replace(base, load_plugins=frozenset()))
    assert none.get_plugin("good") is None and none.get_plugin("zoo.default_plugins.heads") is not None
    deny = make_manager(settings=dataclasses.replace(
        base, disable_plugins=frozenset({"broken", "zoo.default_plugins.heads", "zoo.default_plugins.plugin_commands"})))
    assert deny.failures == [] and deny.get_plugin("good") is not None
    assert deny.get_plugin("zoo.default_plugins.heads") is None
    assert deny.get_plugin("zoo.default_plugins.plugin_commands") is not None  # essential


def test_environment_variables_drive_get_manager(site, monkeypatch):
    from zoo.plugins import _loading

    monkeypatch.setattr(_loading, "_MANAGER", None)  # restored after the test
    make_dist(site, "zoo-good", modules={"good_plugin": GOOD}, entry_points={"good": "good_plugin"})
    monkeypatch.setenv("ZOO_DISABLE_PLUGINS", "good")
    assert get_manager(reload=True).get_plugin("good") is None
    monkeypatch.setenv("ZOO_DISABLE_PLUGINS", "")
    assert get_manager(reload=True).get_plugin("good") is not None
    assert get_manager() is get_manager()


def test_two_distributions_with_one_entry_point_name(site, tmp_path, monkeypatch):
    make_dist(site, "zoo-good", modules={"good_plugin": GOOD}, entry_points={"good": "good_plugin"})
    other = tmp_path / "other-site"
    make_dist(other, "zoo-impostor", modules={"good_other": GOOD}, entry_points={"good": "good_other"})
    monkeypatch.syspath_prepend(str(other))
    pm = make_manager()
    (failure,) = load_failures(pm)
    assert failure.plugin == "good" and "zoo-good" in failure.message and "zoo-impostor" in failure.message


def test_backbone_tables_come_with_their_plugin():
    entry = {"name": "tiny", "repo_id": "org/tiny"}
    mod = _module("bb", register_backbones=hookimpl(lambda register: register(entry)))
    pm = make_manager(builtins=False, entry_points=False)
    pm.register(mod, "bb-plugin")
    from zoo.plugins import list_backbone_tables

    assert list_backbone_tables(manager=pm) == [("bb-plugin", entry)]


def test_lifecycle_hooks_reach_logger_plugins():
    seen = []

    class Logger:
        @hookimpl
        def zoo_experiment_start(self, run):
            seen.append(("start", run.name))

        @hookimpl
        def zoo_epoch_end(self, run, epoch, metrics):
            seen.append(("epoch", epoch, dict(metrics)))

        @hookimpl
        def zoo_experiment_finish(self, run, record):
            seen.append(("finish", record))

    pm = make_manager(builtins=False, entry_points=False)
    pm.register(Logger(), "logger")
    run = types.SimpleNamespace(name="r1")
    pm.hook.zoo_experiment_start(run=run)
    pm.hook.zoo_epoch_end(run=run, epoch=0, metrics={"loss": 1.5})
    pm.hook.zoo_experiment_finish(run=run, record={"ok": True})
    assert seen == [("start", "r1"), ("epoch", 0, {"loss": 1.5}), ("finish", {"ok": True})]


def test_startup_imports_nothing_heavy():
    code = (
        "import sys; from zoo.plugins import get_manager, list_components; "
        "get_manager(); list_components('command'); "
        "heavy = [m for m in ('torch', 'sklearn', 'numpy') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
