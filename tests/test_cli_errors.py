"""A user's mistake never shows a traceback: one typed line, exit 1 (2 for usage), `--traceback` for the rest."""

from __future__ import annotations

import json

import pytest

from zoo.cli.main import main
from zoo.errors import DatasetError, DeviceError, OptionsError, RecipeError

RECIPE = """\
name = "errors-probe"
seed = 0
device = "cpu"
output_dir = "runs"

[backbone]
name = "all-minilm-l6-v2"

[data]
loader = "csv"

[data.options]
train = "{data}/train.csv"
test = "{data}/test.csv"
text_column = "text"
label_column = "category"

[training]
epochs = 0

[[evaluators]]
name = "logistic-probe"
"""


def call(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        rc = main(list(argv))
    except SystemExit as exc:  # argparse: --help, usage errors
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def recipe(tmp_path, shared_data):
    path = tmp_path / "recipe.toml"
    path.write_text(RECIPE.format(data=shared_data / "banking77"), encoding="utf-8")
    return path


def one_error_line(err: str, rc: int, *needles: str) -> None:
    assert rc == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("zoo: error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- the handler --------------------------------------------------------------------------


def test_a_zoo_error_is_one_line_and_traceback_shows_the_rest(capsys, recipe):
    rc, _, err = call(capsys, "plan", str(recipe), "-s", "seed=-1", "--no-model")
    one_error_line(err, rc, "seed must be in [0, 2**32)")
    with pytest.raises(RecipeError):
        main(["--traceback", "plan", str(recipe), "-s", "seed=-1", "--no-model"])


def test_an_unexpected_error_says_how_to_see_the_traceback(capsys, monkeypatch):
    from zoo.default_plugins import registry_commands

    def boom(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(registry_commands, "_run_info", boom)
    monkeypatch.setattr("zoo.plugins._loading._MANAGER", None)
    rc, _, err = call(capsys, "info", "all-minilm-l6-v2")
    one_error_line(err, rc, "unexpected ZeroDivisionError: division by zero")
    assert "rerun with --traceback" in err


def test_usage_errors_exit_2(capsys):
    rc, _, err = call(capsys, "list", "--modality", "txt")
    assert rc == 2 and "invalid choice: 'txt'" in err and "Traceback" not in err


def test_version_names_zoo_torch_python_and_platform(capsys):
    import platform

    rc, out, _ = call(capsys, "--version")
    assert rc == 0 and out.startswith("transferzoo 0.1.0\ntorch ")
    assert f"Python {platform.python_version()}" in out and "platform " in out


def test_every_help_has_an_example(capsys):
    from zoo.cli.main import build_parser

    parser = build_parser()
    names = [a for a in parser._subparsers._group_actions[0].choices]
    assert {"list", "info", "pull", "verify", "hub", "embed", "plan", "run", "reproduce", "plugins",
            "catalog"} <= set(names)
    for name in names:
        rc, out, _ = call(capsys, name, "--help")
        assert rc == 0 and "examples:\n  zoo " + name in out, name


def test_shell_completion_goes_through_argcomplete(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, _ARGCOMPLETE="1", _ARGCOMPLETE_IFS="\n", COMP_LINE="zoo plu", COMP_POINT="7",
               _ARGCOMPLETE_STDOUT_FILENAME=str(tmp_path / "out"))
    subprocess.run([sys.executable, "-m", "zoo"], env=env, capture_output=True, timeout=60)
    assert (tmp_path / "out").read_text().split() == ["plugins"]


# --- values that used to pass or crash -----------------------------------------------------


@pytest.mark.parametrize("override,needle", [
    ("training.lr=inf", "lr must be a positive finite number"),
    ("training.lr=nan", "lr must be a positive finite number"),
    ("training.lr=0", "lr must be a positive finite number"),
    ("training.weight_decay=-inf", "weight_decay must be a finite number"),
    ("seed=-1", "seed must be in [0, 2**32)"),
    ("name=" + "a" * 300, "name is 300 characters long"),
    ("device=bogus", "device must be"),
    ("data.options.encoding=rot13", "'rot13' is a codec that does not decode bytes to text"),
])
def test_bad_recipe_values_are_refused_with_the_key(capsys, recipe, override, needle):
    rc, _, err = call(capsys, "plan", str(recipe), "-s", override, "--no-model")
    one_error_line(err, rc, needle)


def test_a_recipe_with_a_byte_order_mark_loads(recipe):
    from zoo.runner.recipe import load_recipe

    recipe.write_bytes(b"\xef\xbb\xbf" + recipe.read_bytes())
    assert load_recipe(recipe).name == "errors-probe"


def test_a_recipe_that_is_not_utf8_is_a_recipe_error(capsys, recipe):
    recipe.write_bytes(b"name = \"caf\xe9\"\n")
    rc, _, err = call(capsys, "plan", str(recipe), "--no-model")
    one_error_line(err, rc, "not UTF-8 text")


def test_an_empty_test_file_is_refused_before_any_model_is_loaded(capsys, recipe, tmp_path):
    (tmp_path / "empty.csv").write_text("text,category\n", encoding="utf-8")
    rc, _, err = call(capsys, "run", str(recipe), "-s", f"data.options.test={json.dumps(str(tmp_path / 'empty.csv'))}",
                      "--quiet")
    one_error_line(err, rc, "option 'test'", "empty.csv holds no examples")


def test_empty_texts_are_refused(tmp_path):
    from zoo.data import CsvOptions
    from zoo.data.text import load_csv

    (tmp_path / "train.csv").write_text("text,label\nhello,a\n  ,b\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"train.csv:3: the text is empty"):
        load_csv(CsvOptions(train="train.csv"), base_dir=tmp_path, seed=0)


def test_text_codecs_are_not_encodings():
    from zoo.data import CsvOptions

    with pytest.raises(OptionsError, match="rot13"):
        CsvOptions(encoding="rot13")


@pytest.mark.parametrize("argv,needle", [
    (["-o", "FILE"], "-o/--output-dir"),
    (["-o", "FILE/sub"], "cannot be created"),
])
def test_output_dir_that_cannot_hold_runs(capsys, recipe, tmp_path, argv, needle):
    (tmp_path / "FILE").write_text("x")
    argv = [a.replace("FILE", str(tmp_path / "FILE")) for a in argv]
    rc, _, err = call(capsys, "run", str(recipe), *argv, "--quiet")
    one_error_line(err, rc, needle)
    assert not list(tmp_path.glob("runs/*"))  # nothing started


def test_devices_that_this_machine_lacks_are_typed_errors(capsys):
    import torch

    from zoo.builder import resolve_device

    with pytest.raises(DeviceError, match="'bogus' is not a device name"):
        resolve_device("bogus")
    with pytest.raises(DeviceError, match=r"cuda:7"):
        if torch.cuda.is_available() and torch.cuda.device_count() > 7:
            raise DeviceError("cuda:7 exists here", device="cuda:7")
        resolve_device("cuda:7")
    if torch.cuda.is_available():
        assert resolve_device("cuda") == "cuda"
    else:
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_device("cuda")
    rc, _, err = call(capsys, "embed", "all-minilm-l6-v2", "hello", "--device", "bogus")
    one_error_line(err, rc, "'bogus' is not a device name")


# --- sweeps ---------------------------------------------------------------------------------


def test_sweep_values_are_validated_for_every_trial_before_the_first_starts(capsys, recipe, tmp_path):
    recipe.write_text(recipe.read_text() + '\n[sweep]\n[sweep.params]\n"training.lr" = [0.01, inf]\n')
    rc, _, err = call(capsys, "run", str(recipe), "--quiet")
    one_error_line(err, rc, "lr must be a positive finite number")
    assert not list((tmp_path / "runs").glob("*"))  # no trial ran


@pytest.mark.slow
def test_sweep_json_is_written_when_a_trial_fails(capsys, recipe, tmp_path, warm_cache, monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # the second backbone is not cached: its trial fails, the first stands
    recipe.write_text(recipe.read_text() + '\n[sweep]\n[sweep.params]\n"backbone.name" = '
                      '["all-minilm-l6-v2", "bge-small-en-v1.5"]\n')
    rc, out, err = call(capsys, "run", str(recipe), "-s", "data.max_train=60", "-s", "data.max_test=40", "--quiet",
                        "--json")
    assert rc == 1 and "Traceback" not in err, err
    assert out.strip(), err
    summary = json.loads(out)
    saved = json.loads(next((tmp_path / "runs").glob("*-sweep-*/sweep.json")).read_text())
    assert saved == summary
    first, second = saved["trials"]
    assert first["error"] is None and first["run_dir"] and first["test"]
    assert second["run_dir"] is None and second["error"].startswith("OfflineCacheMissError")


# --- every command: a wrong path, a corrupt file, a bad value --------------------------------

CORRUPT = b"\x00\xff\xfe not text \x89PNG\r\n"


@pytest.fixture
def junk(tmp_path, recipe):
    """A corrupt file, a plain file, a missing path, a run directory with a corrupt and a list record."""
    root = tmp_path / "junk"
    root.mkdir()
    (root / "corrupt.bin").write_bytes(CORRUPT)
    (root / "afile").write_text("x")
    for name, text in (("badrun", "not json{"), ("listrun", "[]")):
        (root / name).mkdir()
        (root / name / "record.json").write_text(text)
    (root / "corruptdir").mkdir()
    (root / "corruptdir" / "config.json").write_bytes(CORRUPT)
    (root / "corruptdir" / "registry-entry.toml").write_bytes(CORRUPT)
    (root / "corrupt.onnx").write_bytes(CORRUPT)
    return {"J": str(root), "R": str(recipe)}


MISTAKES: dict[str, dict[str, tuple[list[str], dict[str, str]]]] = {
    "list": {"path": (["list"], {"ZOO_REGISTRY": "J/missing.toml"}),
             "corrupt": (["list"], {"ZOO_REGISTRY": "J/corrupt.bin"}),
             "value": (["list", "--modality", "txt"], {})},
    "info": {"path": (["info", "./all-minilm-l6-v2"], {}),
             "corrupt": (["info", "all-minilm-l6-v2"], {"ZOO_CONFIG": "J/corrupt.bin"}),
             "value": (["info", "all-minilm-l6"], {})},
    "pull": {"path": (["pull", "all-minilm-l6-v2"], {"ZOO_REGISTRY": "J/missing.toml"}),
             "corrupt": (["pull", "all-minilm-l6-v2"], {"ZOO_LOCKFILE": "J/corrupt.bin"}),
             "value": (["pull", "nope"], {})},
    "verify": {"path": (["verify"], {"ZOO_REGISTRY": "J/missing.toml"}),
               "corrupt": (["verify"], {"ZOO_LOCKFILE": "J/corrupt.bin"}),
               "value": (["verify", "nope"], {})},
    "hub": {"path": (["hub", "import", "J/missing", "all-minilm-l6-v2"], {}),
            "corrupt": (["hub", "import", "J/corruptdir", "all-minilm-l6-v2"], {}),
            "value": (["hub", "import", "J/corruptdir", "--repo", "a/b", "--revision", "main"], {})},
    "embed": {"path": (["embed", "all-minilm-l6-v2", "hi"], {"ZOO_REGISTRY": "J/missing.toml"}),
              "corrupt": (["embed", "all-minilm-l6-v2", "hi"], {"ZOO_CONFIG": "J/corrupt.bin"}),
              "value": (["embed", "all-minilm-l6-v2", "hi", "--device", "bogus"], {})},
    "plan": {"path": (["plan", "J/missing.toml"], {}),
             "corrupt": (["plan", "J/corrupt.bin"], {}),
             "value": (["plan", "R", "-s", "seed=-1", "--no-model"], {})},
    "run": {"path": (["run", "R", "-o", "J/afile", "--quiet"], {}),
            "corrupt": (["run", "J/corrupt.bin"], {}),
            "value": (["run", "R", "-s", "training.lr=inf", "--quiet"], {})},
    "reproduce": {"path": (["reproduce", "J/missing"], {}),
                  "corrupt": (["reproduce", "J/badrun"], {}),
                  "value": (["reproduce", "J/listrun"], {})},
    "runs": {"path": (["runs", "clean", "J/missing"], {}),
             "corrupt": (["runs", "clean", "J/corrupt.bin"], {}),
             "value": (["runs", "sweep-away"], {})},
    "plugins": {"path": (["plugins", "info", "J/missing"], {}),
                "corrupt": (["plugins", "doctor"], {"ZOO_CONFIG": "J/corrupt.bin"}),
                "value": (["plugins", "uninstall", "-y", "transferzoo==0.1.0"], {})},
    "catalog": {"path": (["catalog", "build", "--out", "J/site", "--docs", "J/missing"], {}),
                "corrupt": (["catalog", "serve", "--no-build", "--out", "J/corruptdir"], {}),
                "value": (["catalog", "build", "--out", "J/afile", "--runs", "J/missing"], {})},
    "convert": {"path": (["convert", "J/missing.pth", "J/out", "--preset", "resnet20-cifar10"], {}),
                "corrupt": (["convert", "J/corrupt.bin", "J/out", "--preset", "resnet20-cifar10"], {}),
                "value": (["convert", "J/corrupt.bin", "J/out", "--preset", "nope"], {})},
    "export": {"path": (["export", "J/missing", "J/o.onnx", "--format", "onnx"], {}),
               "corrupt": (["export", "J/badrun", "J/o.onnx", "--format", "onnx"], {}),
               "value": (["export", "--format", "onnx", "--backbone", "nope"], {})},
    "push": {"path": (["push", "J/missing", "--repo", "a/b"], {}),
             "corrupt": (["push", "J/corruptdir", "--repo", "a/b"], {}),
             "value": (["push", "J/corruptdir", "--repo", "not a repo!"], {})},
    "predict": {"path": (["predict", "J/missing.onnx", "hi"], {}),
                "corrupt": (["predict", "J/corrupt.onnx", "hi"], {}),
                "value": (["predict", "J/corrupt.onnx", "hi", "--threads", "-1"], {})},
}

UNTYPED: set[tuple[str, str]] = set()
"""Mistakes still caught by the last-resort handler (no traceback, a pointer to --traceback): none."""


def test_the_mistakes_cover_every_command():
    from zoo.cli.main import build_parser

    parser = build_parser()
    assert set(parser._subparsers._group_actions[0].choices) == set(MISTAKES)


@pytest.mark.parametrize("command,kind", [(c, k) for c, kinds in MISTAKES.items() for k in kinds])
def test_no_command_shows_a_traceback_for_a_mistake(capsys, monkeypatch, junk, command, kind):
    argv, env = MISTAKES[command][kind]
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    for key, value in env.items():
        monkeypatch.setenv(key, value.replace("J/", junk["J"] + "/"))

    def fill(a: str) -> str:
        return junk["R"] if a == "R" else a.replace("J/", junk["J"] + "/")

    rc, out, err = call(capsys, *map(fill, argv))
    assert "Traceback" not in out + err, err
    problem = [line for line in err.splitlines() if "error" in line or "warning" in line]
    assert problem, (rc, err)
    assert rc in (1, 2), (rc, err)
    if (command, kind) in UNTYPED:
        assert "--traceback" in err
    else:
        assert "unexpected" not in err, err
