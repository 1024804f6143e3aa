"""Components: registration checks, collisions, look-up with did-you-mean, options validation."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Literal

import pytest

from zoo.errors import ComponentCollisionError, OptionsError, UnknownComponentError
from zoo.hookspecs import hookimpl
from zoo.plugins import (
    KINDS,
    Command,
    describe_options,
    get_component,
    list_components,
    load_failures,
    make_manager,
    validate_options,
)


@dataclass(frozen=True)
class Opts:
    rate: float = field(default=0.5, metadata={"help": "a rate"})
    steps: int = field(default=3, metadata={"help": "how many steps"})
    mode: Literal["fast", "slow"] = field(default="fast", metadata={"help": "speed"})
    names: tuple[str, ...] = field(default=(), metadata={"help": "some names"})
    limit: int | None = field(default=None, metadata={"help": "optional limit"})
    flag: bool = field(default=False, metadata={"help": "a flag"})

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError("steps must be >= 0")


def build(in_features, num_classes, options=None):
    """Builds nothing: a test head.

    More text that is not the summary.
    """


def _plugin(name: str, hook: str, fn) -> types.ModuleType:
    mod = types.ModuleType(name)
    setattr(mod, hook, hookimpl(fn))
    return mod


def _manager(*plugins: tuple[str, types.ModuleType], builtins=False):
    pm = make_manager(builtins=builtins, entry_points=False)
    for name, mod in plugins:
        pm.register(mod, name)
    return pm


def test_register_records_summary_options_and_plugin():
    pm = _manager(("mine", _plugin("m", "register_heads", lambda register: register("h", build, options=Opts))))
    comp = get_component("head", "h", manager=pm)
    assert (comp.kind, comp.name, comp.obj, comp.options, comp.plugin) == ("head", "h", build, Opts, "mine")
    assert comp.summary == "Builds nothing: a test head."
    assert "More text" in comp.doc
    assert comp.defaults() == Opts()


def test_two_plugins_with_one_name_raise_naming_both():
    a = _plugin("a", "register_heads", lambda register: register("linear", build))
    pm = _manager(("plugin-a", a), builtins=True)
    with pytest.raises(ComponentCollisionError) as info:
        list_components("head", manager=pm)
    message = str(info.value)
    assert "'zoo.default_plugins.heads'" in message and "'plugin-a'" in message and "'linear'" in message
    assert info.value.plugins == ("zoo.default_plugins.heads", "plugin-a")
    with pytest.raises(ComponentCollisionError):
        get_component("head", "mlp", manager=pm)
    assert list_components("freezing", manager=pm)  # other kinds are unaffected


def test_same_name_in_different_kinds_is_fine():
    a = _plugin("a", "register_evaluators", lambda register: register("linear", build))
    pm = _manager(("plugin-a", a), builtins=("heads",))
    assert get_component("evaluator", "linear", manager=pm).plugin == "plugin-a"
    assert get_component("head", "linear", manager=pm).plugin == "zoo.default_plugins.heads"


def test_unknown_component_suggests_and_lists():
    pm = make_manager(builtins=("heads",), entry_points=False)
    with pytest.raises(UnknownComponentError) as info:
        get_component("head", "lineer", manager=pm)
    assert "Did you mean: 'linear'" in str(info.value) and "linear, mlp" in str(info.value)
    assert isinstance(info.value, KeyError)
    with pytest.raises(ValueError, match="unknown component kind"):
        get_component("heads", "linear", manager=pm)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda register: register("bad name", build), "not valid"),
        (lambda register: register("x", None), "is None"),
        (lambda register: register("x", lambda *a: None), "summary"),
        (lambda register: register("x", build, options=dict), "dataclass"),
    ],
)
def test_invalid_registrations_are_failures_of_that_plugin(call, error):
    pm = _manager(("bad", _plugin("b", "register_heads", call)))
    assert list_components("head", manager=pm) == []
    (failure,) = load_failures(pm)
    assert failure.plugin == "bad" and error in failure.traceback


def test_option_schema_must_document_and_default_every_field():
    @dataclass
    class Undocumented:
        x: int = 1

    @dataclass
    class NoDefault:
        x: int = field(metadata={"help": "x"})

    @dataclass
    class Unsupported:
        x: dict = field(default_factory=dict, metadata={"help": "x"})

    for schema, error in [(Undocumented, "help"), (NoDefault, "default"), (Unsupported, "not supported")]:
        pm = _manager(("p", _plugin("p", "register_heads", lambda register, s=schema: register("h", build, options=s))))
        assert list_components("head", manager=pm) == []
        assert error in load_failures(pm)[0].traceback


def test_commands_register_configure_and_run():
    def configure(parser):
        parser.add_argument("--n", type=int, default=1)

    def run(args):
        return args.n

    plugin = _plugin("c", "register_commands",
                     lambda register: register("hello", configure=configure, run=run, summary="say hello"))
    comp = get_component("command", "hello", manager=_manager(("cmds", plugin)))
    assert comp.obj == Command(configure, run) and comp.summary == "say hello"


def test_kinds_match_hooks():
    assert KINDS == ("architecture", "head", "freezing", "compression", "evaluator", "adaptation", "dataset",
                     "command")


def test_collection_is_lazy_and_cached():
    calls = []

    def hook(register):
        calls.append(1)
        register("h", build)

    pm = _manager(("p", _plugin("p", "register_heads", hook)))
    assert calls == []
    get_component("head", "h", manager=pm)
    list_components("head", manager=pm)
    assert calls == [1]


# --- options ----------------------------------------------------------------------------


@pytest.fixture
def comp():
    pm = _manager(("mine", _plugin("m", "register_heads", lambda register: register("h", build, options=Opts))))
    return get_component("head", "h", manager=pm)


def test_validate_options_converts_losslessly(comp):
    opts = validate_options(comp, {"rate": 1, "names": ["a", "b"], "limit": None, "mode": "slow"})
    assert opts == Opts(rate=1.0, names=("a", "b"), limit=None, mode="slow")
    assert isinstance(opts.rate, float)
    assert validate_options(comp, None) == Opts()


@pytest.mark.parametrize(
    "mapping, error",
    [
        ({"rat": 1.0}, "head 'h' has no option 'rat'. Did you mean: 'rate'?"),
        ({"steps": "3"}, "head 'h', option 'steps': expected int, got str '3'"),
        ({"steps": 2.5}, "expected int, got float"),
        ({"steps": True}, "expected int, got bool"),
        ({"flag": 1}, "expected bool, got int"),
        ({"mode": "medium"}, "expected 'fast' | 'slow'"),
        ({"names": "ab"}, "expected tuple[str, ...]"),
        ({"names": [1]}, "expected tuple[str, ...]"),
        ({"rate": None}, "expected float, got NoneType"),
        ({"steps": -1}, "head 'h': steps must be >= 0"),
    ],
)
def test_validate_options_errors_name_component_option_and_type(comp, mapping, error):
    with pytest.raises(OptionsError) as info:
        validate_options(comp, mapping)
    assert error in str(info.value)


def test_component_without_options_refuses_options():
    pm = _manager(("p", _plugin("p", "register_heads", lambda register: register("h", build))))
    c = get_component("head", "h", manager=pm)
    assert validate_options(c, {}) is None
    with pytest.raises(OptionsError, match="takes no options"):
        validate_options(c, {"x": 1})


def test_describe_options():
    docs = describe_options(Opts)
    assert [(d.name, d.type, d.default) for d in docs][:3] == [("rate", "float", 0.5), ("steps", "int", 3),
                                                                ("mode", "'fast' | 'slow'", "fast")]
    assert docs[4].type == "int | None" and docs[3].type == "tuple[str, ...]"
    assert describe_options(None) == []
