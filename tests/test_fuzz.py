"""Fuzzing the readers of user-supplied files: whatever the bytes or TOML values, only typed errors.

Random bytes and random TOML documents go to the registry parser, the lock file reader, the
recipe loader and the safetensors reader; each may refuse its input, but only with an error of
the zoo hierarchy (:class:`zoo.errors.ZooError`), never a bare ``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Callable

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_registry import GOOD

from zoo.errors import ZooError
from zoo.hub import LockFile
from zoo.registry import load_registry_file, parse_registry
from zoo.runner.recipe import load_recipe
from zoo.weights import load_state_dict, read_safetensors_header

REPO_ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=30, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

KEYS = st.sampled_from(["schema", "backbone", "version", "files", "name", "training", "data", "backbone",
                        "evaluators", "options", "input", "image_size", "model.safetensors", "a/../b", "x"]) | st.text()
SCALARS = (st.booleans() | st.integers() | st.floats() | st.text() | st.datetimes() | st.dates() | st.times())
TOML_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12)
TOML_DOCS = st.dictionaries(KEYS, TOML_VALUES, max_size=5)


def only_typed_errors(read: Callable[[], Any]) -> None:
    try:
        read()
    except ZooError:
        pass  # a refusal, typed: what the user sees as one line


def toml_bytes(doc: dict) -> bytes:
    return tomli_w.dumps(doc).encode("utf-8", "surrogatepass")


@pytest.fixture
def target(tmp_path) -> Path:
    return tmp_path / "fuzzed.toml"


# --- registry -----------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=300) | TOML_DOCS.map(toml_bytes))
def test_registry_file_reader(target, data):
    target.write_bytes(data)
    only_typed_errors(lambda: load_registry_file(target))


@FUZZ
@given(changes=st.dictionaries(st.sampled_from([*GOOD, "input", "tags", "references", "integrity", "pooling",
                                                 "override", "paper"]), TOML_VALUES, max_size=4),
       name=st.text(max_size=12) | st.just("tiny"), schema=st.just(1) | TOML_VALUES)
def test_registry_parser_with_random_values(changes, name, schema):
    only_typed_errors(lambda: parse_registry({"schema": schema, "backbone": {name: {**GOOD, **changes}}},
                                             source="fuzz.toml"))


# --- lock file ----------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=300) | TOML_DOCS.map(toml_bytes)
       | st.dictionaries(KEYS | st.just(f"org/x@{'a' * 40}"), TOML_VALUES, max_size=3)
       .map(lambda files: toml_bytes({"version": 1, "files": files})))
def test_lock_file_reader(target, data):
    target.write_bytes(data)
    only_typed_errors(lambda: LockFile(target))


# --- recipes ------------------------------------------------------------------------------


def _example_recipe() -> dict:
    import tomllib

    return tomllib.loads((REPO_ROOT / "examples" / "sst2-probe.toml").read_text(encoding="utf-8"))


@FUZZ
@given(data=st.binary(max_size=300) | TOML_DOCS.map(toml_bytes)
       | st.dictionaries(st.sampled_from(sorted(_example_recipe())), TOML_VALUES, max_size=3)
       .map(lambda changes: toml_bytes({**_example_recipe(), **changes})))
def test_recipe_loader(target, data):
    target.write_bytes(data)
    only_typed_errors(lambda: load_recipe(target, check_files=False))


# --- safetensors --------------------------------------------------------------------------

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=10)
TENSOR_INFO = st.fixed_dictionaries({"dtype": st.sampled_from(["F32", "F16", "I64", "BOOL", "X"]) | st.text(),
                                     "shape": st.lists(st.integers(-2, 6), max_size=3) | JSON_VALUES,
                                     "data_offsets": st.lists(st.integers(-4, 64), max_size=3) | JSON_VALUES})
HEADERS = st.dictionaries(st.text(max_size=6), TENSOR_INFO | JSON_VALUES, max_size=3) | JSON_VALUES


def _safetensors_bytes(header: Any, tail: bytes, length_delta: int) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", max(0, len(raw) + length_delta)) + raw + tail


@FUZZ
@given(data=st.binary(max_size=200)
       | st.builds(_safetensors_bytes, HEADERS, st.binary(max_size=64), st.integers(-3, 3)))
def test_safetensors_reader(tmp_path, data):
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    only_typed_errors(lambda: load_state_dict(path))
    only_typed_errors(lambda: read_safetensors_header(path))
