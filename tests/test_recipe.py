"""Recipe validation: each bad recipe gives a short error naming the file, the line and the key."""

from __future__ import annotations

import textwrap

import pytest

from zoo.errors import RecipeError
from zoo.runner.recipe import apply_overrides, key_lines, load_recipe, parse_override

GOOD = """\
name = "tiny"
seed = 3
output_dir = "runs"

[backbone]
name = "all-minilm-l6-v2"

[data]
loader = "csv"
max_train = 200

[data.options]
train = "{data}/banking77/train.csv"
test = "{data}/banking77/test.csv"
label_column = "category"
validation_fraction = 0.1

[head]
name = "linear"

[freezing]
name = "all-but-head"

[training]
epochs = 2
lr = 0.01

[[evaluators]]
name = "logistic-probe"

[evaluators.options]
C = 0.5
"""


@pytest.fixture
def write(tmp_path, shared_data):
    def _write(text: str, name: str = "recipe.toml"):
        path = tmp_path / name
        path.write_text(text.replace("{data}", str(shared_data)), encoding="utf-8")
        return path

    return _write


def _error(path, overrides=()) -> RecipeError:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, overrides=overrides)
    err = info.value
    text = str(err)
    assert str(path) in text  # names the file
    assert len(text.splitlines()) <= 20 and len(text) < 2000, text  # one screen
    return err


def test_good_recipe_validates(write):
    recipe = load_recipe(write(GOOD))
    assert recipe.name == "tiny" and recipe.seed == 3
    assert recipe.training.epochs == 2 and recipe.training.lr == 0.01
    assert recipe.data.max_train == 200
    assert recipe.evaluators[0].name == "logistic-probe"
    assert dict(recipe.evaluators[0].options) == {"C": 0.5}
    assert recipe.output_dir == recipe.base_dir / "runs"


def test_unknown_key_did_you_mean(write):
    err = _error(write(GOOD.replace("epochs = 2", "epoch = 2")))
    assert err.key == "training.epoch" and err.line == 25
    assert "Did you mean: 'epochs'" in str(err)


def test_unknown_top_level_table(write):
    err = _error(write(GOOD.replace("[training]", "[trainign]")))
    assert err.key == "trainign" and err.line == 24
    assert "'training'" in str(err)


def test_unknown_plugin_lists_installed(write):
    err = _error(write(GOOD.replace('name = "linear"', 'name = "lineer"')))
    assert err.key == "head.name" and err.line == 19
    assert "Did you mean: 'linear'" in str(err) and "mlp" in str(err)


def test_unknown_evaluator(write):
    err = _error(write(GOOD.replace('name = "logistic-probe"', 'name = "logistic"')))
    assert err.key == "evaluators.0.name" and err.line == 29
    assert "logistic-probe" in str(err)


def test_wrong_type(write):
    err = _error(write(GOOD.replace("lr = 0.01", 'lr = "fast"')))
    assert err.key == "training.lr" and err.line == 26
    assert "expected float" in str(err)


def test_wrong_type_in_component_options(write):
    err = _error(write(GOOD.replace("C = 0.5", 'C = "big"')))
    assert err.key == "evaluators.0.options.C" and err.line == 32
    assert "expected float" in str(err)


def test_unknown_component_option(write):
    err = _error(write(GOOD.replace("C = 0.5", "c = 0.5")))
    assert err.key == "evaluators.0.options.c"
    assert "Did you mean: 'C'" in str(err)


def test_missing_data_file(write):
    err = _error(write(GOOD.replace("banking77/test.csv", "banking77/tset.csv")))
    assert err.key == "data.options.test" and err.line == 14
    assert "tset.csv" in str(err) and "test.csv" in str(err)  # names the path and suggests the real one


def test_relative_data_path_is_resolved_against_recipe(write, tmp_path):
    err = _error(write(GOOD.replace("{data}/banking77/train.csv", "data/train.csv")))
    assert err.key == "data.options.train"
    assert str(tmp_path / "data" / "train.csv") in str(err)


def test_backbone_not_in_registry(write):
    err = _error(write(GOOD.replace('name = "all-minilm-l6-v2"', 'name = "all-minilm-l12"')))
    assert err.key == "backbone.name" and err.line == 6
    assert "all-minilm-l6-v2" in str(err)  # did-you-mean


def test_unknown_dataset_loader(write):
    err = _error(write(GOOD.replace('loader = "csv"', 'loader = "cvs"')))
    assert err.key == "data.loader" and err.line == 9
    assert "'csv'" in str(err)


def test_option_checked_by_component_schema(write):
    err = _error(write(GOOD.replace("validation_fraction = 0.1", "validation_fraction = 1.5")))
    assert err.key == "data.options" and "validation_fraction" in str(err)


def test_toml_syntax_error_gives_line(write):
    err = _error(write(GOOD.replace("epochs = 2", "epochs = = 2")))
    assert err.line == 25


def test_override_applies_and_is_validated(write):
    path = write(GOOD)
    recipe = load_recipe(path, overrides=["training.epochs=5", "evaluators.0.options.C=2", "head.name=mlp"])
    assert recipe.training.epochs == 5 and recipe.evaluators[0].options["C"] == 2 and recipe.head.name == "mlp"
    err = _error(path, overrides=["training.epohcs=5"])
    assert err.key == "training.epohcs" and "-s training.epohcs=5" in str(err) and "'epochs'" in str(err)
    err = _error(path, overrides=["training.epochs=five"])
    assert "expected int" in str(err)


def test_parse_override_values():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a=1e-4") == (["a"], 1e-4)
    assert parse_override("a=true") == (["a"], True)
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("a=cpu") == (["a"], "cpu")
    assert apply_overrides({"x": [{"y": 1}]}, ["x.0.y=2"]) == {"x": [{"y": 2}]}
    with pytest.raises(RecipeError):
        parse_override("novalue")


def test_key_lines_arrays_of_tables():
    text = textwrap.dedent("""\
        name = "x"
        [[evaluators]]
        name = "a"
        [[evaluators]]
        name = "b"
        [evaluators.options]
        k = 1
        files = [
          "a",
        ]
        after = 2
    """)
    lines = key_lines(text)
    assert lines["name"] == 1
    assert lines["evaluators.0.name"] == 3 and lines["evaluators.1.name"] == 5
    assert lines["evaluators.1.options.k"] == 7
    assert lines["evaluators.1.options.after"] == 11


def test_examples_validate(shared_data):
    import pathlib

    examples = sorted((pathlib.Path(__file__).resolve().parents[1] / "examples").glob("*.toml"))
    assert examples
    for path in examples:
        load_recipe(path)


def test_compression_order_is_checked_before_running(write):
    text = GOOD + '\n[[compression]]\nname = "dynamic-int8"\n\n[[compression]]\nname = "magnitude-prune"\n'
    err = _error(write(text))
    assert err.key == "compression.1.name" and err.line == 38
    assert "magnitude-prune" in str(err) and "dynamic-int8" in str(err)
