"""The conformance kit (zoo.testing) passes on every builtin and first-party plugin, and catches
components that break their contracts."""

from __future__ import annotations

import copy
import importlib.util
import pathlib
import subprocess
import sys
import textwrap
import types
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from zoo.contracts import FreezeReport, PassResult
from zoo.hookspecs import hookimpl
from zoo.plugins import DEFAULT_PLUGINS
from zoo.testing import check_component, components_of, parametrize_with_checks

FIRST_PARTY = pathlib.Path(__file__).resolve().parents[1] / "plugins"


def _import_first_party(dist: str, package: str) -> types.ModuleType:
    """Import a first-party plugin package from its source tree without putting src/ on sys.path
    (where a stray *.egg-info would make it an installed entry-point plugin for every test)."""
    if package in sys.modules:
        return sys.modules[package]
    pkg_dir = FIRST_PARTY / dist / "src" / package
    spec = importlib.util.spec_from_file_location(package, pkg_dir / "__init__.py",
                                                  submodule_search_locations=[str(pkg_dir)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    spec.loader.exec_module(module)
    return module


zoo_knn_probe = _import_first_party("zoo-knn-probe", "zoo_knn_probe")
zoo_plugin_template = _import_first_party("zoo-plugin-template", "zoo_plugin_template")
zoo_timm = _import_first_party("zoo-timm", "zoo_timm")

BUILTINS = tuple(f"zoo.default_plugins.{m}" for m in DEFAULT_PLUGINS)


@parametrize_with_checks(*BUILTINS, zoo_knn_probe, zoo_plugin_template, zoo_timm)
def test_builtin_and_first_party_components_conform(component, check):
    check(component)


def test_every_first_party_plugin_is_checked():
    dirs = {p.name for p in FIRST_PARTY.iterdir() if (p / "pyproject.toml").is_file()}
    assert dirs == {"zoo-knn-probe", "zoo-plugin-template", "zoo-timm"}


# --- an honest compression pass, and components that break their contracts -------------


def round_to_fp16(model, options=None, *, example_inputs=None, data=None):
    """Round every weight to float16 precision in place (small output change, same storage)."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    return PassResult(model, {"rounded": True})


def _one(kind_hook: str, name: str, obj, options=None):
    mod = types.ModuleType(f"plugin_{name}")
    setattr(mod, kind_hook, hookimpl(lambda register: register(name, obj, options=options)))
    (comp,) = components_of(mod, name=name)
    return comp


def test_an_honest_compression_pass_passes():
    check_component(_one("register_compression_passes", "round-fp16", round_to_fp16))


def test_a_damaging_compression_pass_fails_the_kit():
    def scramble(model, options=None, *, example_inputs=None, data=None):
        """Claims to compress; really shuffles every weight matrix (the model no longer computes the same function)."""
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in model.parameters():
                if p.ndim == 2:
                    p.copy_(p.flatten()[torch.randperm(p.numel(), generator=g)].view_as(p))
        return PassResult(model, {})

    with pytest.raises(AssertionError, match=r"outputs moved by .*distance to an unrelated model"):
        check_component(_one("register_compression_passes", "scramble", scramble))


def test_a_compression_pass_that_grows_the_model_fails():
    def grow(model, options=None, *, example_inputs=None, data=None):
        """Adds an unused buffer: the same outputs, more storage."""
        model.register_buffer("ballast", torch.zeros(10_000))
        return PassResult(model, {})

    with pytest.raises(AssertionError, match="more than the original's"):
        check_component(_one("register_compression_passes", "grow", grow))


def test_a_compression_pass_must_return_a_pass_result():
    def old_style(model, options=None, *, example_inputs=None, data=None):
        """Returns the bare model."""
        return model

    with pytest.raises(AssertionError, match="a pass returns zoo.contracts.PassResult"):
        check_component(_one("register_compression_passes", "old-style", old_style))


def test_a_head_with_the_wrong_shape_fails():
    def build(in_features, num_classes, options=None):
        """Forgets num_classes."""
        return nn.Linear(in_features, 2)

    with pytest.raises(AssertionError, match=r"head 'two' .*expected \(4, 5\)"):
        check_component(_one("register_heads", "two", build))


def test_a_freezing_policy_that_misreports_fails():
    def liar(model, options=None, *, head_prefix="head"):
        """Claims to train only the head but trains everything."""
        for p in model.parameters():
            p.requires_grad_(True)
        head = tuple(n for n, _ in model.named_parameters() if n.startswith("head."))
        return FreezeReport(head, 0, 0, 0)

    with pytest.raises(AssertionError, match="trainable but not claimed"):
        check_component(_one("register_freezing_policies", "liar", liar))


def test_a_freezing_policy_that_depends_on_the_starting_flags_fails():
    def relative(model, options=None, *, head_prefix="head"):
        """Only ever unfreezes the head."""
        for n, p in model.named_parameters():
            if n.startswith("head."):
                p.requires_grad_(True)
        return FreezeReport.from_model(model)

    with pytest.raises(AssertionError, match="set requires_grad on every parameter"):
        check_component(_one("register_freezing_policies", "relative", relative))


class UnseededProbe:
    """A probe whose predictions change from fit to fit."""

    def __init__(self, seed=None):
        self.seed = seed

    def get_params(self, deep=True):
        return {"seed": self.seed}

    def set_params(self, **params):
        self.seed = params.get("seed", self.seed)
        return self

    def fit(self, X, y):
        import numpy as np

        self.classes_ = np.unique(y)
        self.rng_ = np.random.default_rng()
        return self

    def predict(self, X):
        from sklearn.exceptions import NotFittedError

        if not hasattr(self, "rng_"):
            raise NotFittedError("fit first")
        return self.rng_.choice(self.classes_, size=len(X))

    def score(self, X, y):
        return float((self.predict(X) == y).mean())


@dataclass(frozen=True)
class SeedOptions:
    seed: int = field(default=0, metadata={"help": "ignored seed"})


def test_a_nondeterministic_evaluator_fails():
    comp = _one("register_evaluators", "dice", UnseededProbe, SeedOptions)
    with pytest.raises(AssertionError, match="with seed=0 gave different results"):
        from zoo.testing.checks import check_evaluator_deterministic

        check_evaluator_deterministic(comp)


def test_the_kit_is_a_pytest_plugin(tmp_path):
    """A plugin author's test file: the kit's fixtures come from the pytest11 entry point."""
    test_file = tmp_path / "test_author.py"
    test_file.write_text(textwrap.dedent('''
        import zoo_plugin_template
        from zoo.testing import parametrize_with_checks

        @parametrize_with_checks(zoo_plugin_template)
        def test_conformance(component, check):
            check(component)

        def test_fixtures(zoo_register, zoo_plugin_manager):
            pm = zoo_register(zoo_plugin_template, "template")
            assert [n for n, _ in pm.list_name_plugin()] == ["template"]
            assert pm.get_plugin("zoo.default_plugins.heads") is None
            assert zoo_plugin_manager.get_plugin("zoo.default_plugins.heads") is not None
    '''))
    env = {"PYTHONPATH": str(FIRST_PARTY / "zoo-plugin-template" / "src"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "9 passed" in proc.stdout  # the head and the adaptation method: 4 checks each, and test_fixtures


def test_deepcopy_keeps_reference_models_usable():
    from zoo.testing.models import tiny_bert, token_batch

    model = copy.deepcopy(tiny_bert(layers=1))
    assert model(token_batch()).shape == (4, 3)
