"""The modality-neutral engine: a tiny non-text architecture (tests/vector_plugin.py) through every
stage, records that reproduce with their recorded options, validation-time refusals, and what
happens to a run when an observing hook fails. Real data: scikit-learn's digits as 64-value vectors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vector_plugin import REPO, REVISION, VectorPlugin, write_weights
from zoo.errors import CapabilityError, HookError, ModalityMismatchError, ReproducibilityError, RunRecordError
from zoo.hookspecs import hookimpl

RECIPE = """\
name = "tiny-vector"
seed = 3
output_dir = "runs"

[backbone]
name = "tiny-mlp-vec"
batch_size = 64

[data]
loader = "sklearn"

[data.options]
name = "digits"
flatten = true
validation_fraction = 0.15
test_fraction = 0.15

[head]
name = "wide"

[freezing]
name = "first-k"

[freezing.options]
k = 1

[training]
epochs = 4
lr = 0.03
batch_size = 64
{extra}
[[evaluators]]
name = "logistic-probe"
"""

COMPRESSION = '\n[[compression]]\nname = "dynamic-int8"\n'


def write(tmp_path: Path, extra: str = "", name: str = "recipe.toml") -> Path:
    path = tmp_path / name
    path.write_text(RECIPE.format(extra=extra), encoding="utf-8")
    return path


@pytest.fixture
def vector_zoo(tmp_path):
    """The test plugin on the global manager, its weights imported into this test's Hub cache."""
    from zoo import registry
    from zoo._hashing import sha256_file
    from zoo.config import settings
    from zoo.hub import LockFile, import_directory
    from zoo.plugins import get_manager

    weights = write_weights(tmp_path / "snapshot")
    pm = get_manager()
    pm.register(VectorPlugin(sha256_file(weights)), name="test-vector")
    registry._CACHE.clear()
    try:
        s = settings()
        entry = registry.backbone_info("tiny-mlp-vec")
        import_directory(weights.parent, repo_id=REPO, revision=REVISION, cache_dir=s.hf_cache,
                         lock=LockFile(s.lockfile), entry=entry)
        yield pm
    finally:
        for name in ("test-vector", "test-observer"):
            if pm.get_plugin(name) is not None:
                pm.unregister(name=name)
        registry._CACHE.clear()


class Observer:
    """Records the stages and the frozen batch-norm statistics around training."""

    def __init__(self):
        self.stages: list[str] = []
        self.bn: dict[str, list[float]] = {}

    @hookimpl
    def zoo_stage_start(self, run, stage):
        self.stages.append(stage)
        if stage == "train":
            self.bn["before"] = run.model.backbone.stem[1].running_mean.tolist()

    @hookimpl
    def zoo_stage_end(self, run, stage):
        if stage == "train":
            self.bn["after"] = run.model.backbone.stem[1].running_mean.tolist()


def cli(*args: str) -> tuple[int, str, str]:
    """`zoo ...` in this process (so the test plugin is loaded), capturing stdout and stderr."""
    import contextlib
    import io

    from zoo.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_tiny_vector_architecture_runs_every_stage_and_reproduces_byte_identically(tmp_path, vector_zoo):
    from safetensors.torch import load_file

    from zoo.runner import load_recipe, run_recipe
    from zoo.runner.stages import STAGES

    observer = Observer()
    vector_zoo.register(observer, name="test-observer")
    result = run_recipe(load_recipe(write(tmp_path, COMPRESSION)), progress=False, verbose=False)
    rec = result.record
    assert observer.stages == [name for name, _ in STAGES]
    assert observer.bn["before"] == observer.bn["after"]  # the frozen stem's batch norm kept its statistics
    assert rec["backbone"]["modality"] == "vector" and rec["dataset"]["modality"] == "vector"
    assert rec["training"]["mode"] == "finetune"
    groups = {g["name"] for g in rec["training"]["param_groups"]}
    assert {"layer1", "layer2", "head"} <= groups and not groups & {"layer0", "embeddings", "embeddings/no_decay"}
    trained = load_file(result.run_dir / "backbone-trainable.safetensors")
    assert trained and all(k.startswith(("backbone.blocks.1.", "backbone.blocks.2.")) for k in trained)
    assert [p["pass"] for p in rec["compression"]["passes"]] == ["dynamic-int8"]
    rows = rec["compression"]["tradeoffs"]
    assert rows[1]["size_bytes"] < rows[0]["size_bytes"] and rows[1]["metric"] is not None
    assert rec["metrics"]["head"]["accuracy"] > 0.5 and rec["metrics"]["logistic-probe"]["accuracy"] > 0.5
    assert rec["options"]["head"] == {"name": "wide", "options": {"hidden": 8}}
    assert rec["options"]["training"]["weight_decay"] == 0.01  # defaults are recorded too

    code, out, err = cli("reproduce", str(result.run_dir), "--quiet", "-o", str(tmp_path / "again"))
    assert code == 0, out + err
    assert "head.safetensors: byte-identical" in out and "backbone-trainable.safetensors: byte-identical" in out
    assert "result: IDENTICAL" in out


def test_reproduce_reruns_recorded_defaults_and_warns_or_refuses_on_edits(tmp_path, vector_zoo):
    from dataclasses import dataclass, field

    from safetensors.torch import load_file

    from zoo.runner import load_recipe, run_recipe
    from zoo.runner.reproduce import reproduce

    path = write(tmp_path)
    recipe = load_recipe(path, overrides=["training.epochs=1", "evaluators=[]"])
    first = run_recipe(recipe, progress=False, verbose=False)

    @dataclass(frozen=True)
    class WiderDefault:
        """The ``wide`` head's options in a later plugin release: a new default."""

        hidden: int = field(default=16, metadata={"help": "hidden width"})

    sha = vector_zoo.get_plugin("test-vector").sha
    vector_zoo.unregister(name="test-vector")
    vector_zoo.register(VectorPlugin(sha, WiderDefault), name="test-vector")
    fresh = run_recipe(load_recipe(path, overrides=["training.epochs=1", "evaluators=[]"]),
                       progress=False, verbose=False)
    assert load_file(fresh.run_dir / "head.safetensors")["0.weight"].shape[0] == 16  # the new default
    again = reproduce(first.run_dir, output_dir=tmp_path / "repro")
    assert again.identical, again.format()  # the recorded hidden = 8, not today's 16
    assert load_file(again.rerun / "head.safetensors")["0.weight"].shape[0] == 8

    toml = first.run_dir / "recipe.toml"
    toml.write_text(toml.read_text() + "\n# edited\n", encoding="utf-8")
    with pytest.raises(ReproducibilityError, match="recipe.toml was edited"):  # refused before any work
        reproduce(first.run_dir, output_dir=tmp_path / "repro", strict=True)
    from zoo.runner.record import load_record
    from zoo.runner.reproduce import check_edits

    (warning,) = check_edits(load_record(first.run_dir), first.run_dir)  # without --strict: a warning
    assert "recipe.toml was edited" in warning and "uses the options in record.json" in warning


def test_validation_refuses_other_modalities_and_missing_capabilities(tmp_path, vector_zoo, shared_data):
    from zoo.runner import load_recipe

    text = write(tmp_path, name="text.toml").read_text().replace(
        'loader = "sklearn"', 'loader = "csv"').replace(
        'name = "digits"\nflatten = true', f'train = "{shared_data}/banking77/train.csv"\nlabel_column = "category"')
    (tmp_path / "text.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ModalityMismatchError, match="gives text inputs, but backbone 'tiny-mlp-vec' takes vector"):
        load_recipe(tmp_path / "text.toml")
    heads = write(tmp_path, '\n[[compression]]\nname = "prune-heads"\n', name="heads.toml")
    with pytest.raises(CapabilityError, match="'prune-heads' needs attention-heads") as err:
        load_recipe(heads)
    assert err.value.key == "compression.0.name" and err.value.line is not None
    for name, needs in (("prune-channels", "conv-blocks"), ("static-int8", "conv-blocks")):  # tiny-mlp has batchnorm
        conv = write(tmp_path, f'\n[[compression]]\nname = "{name}"\n', name=f"{name}.toml")
        with pytest.raises(CapabilityError, match=f"'{name}' needs {needs}, which architecture"):
            load_recipe(conv)


def test_a_failing_finish_hook_keeps_the_run_and_the_catalog_skips_partials(tmp_path, vector_zoo):
    from zoo.catalog.runs import collect_runs
    from zoo.runner import load_recipe, run_recipe

    class Broken:
        @hookimpl
        def zoo_experiment_finish(self, run, record):
            raise RuntimeError("the dashboard is down")

    vector_zoo.register(Broken(), name="test-observer")
    recipe = load_recipe(write(tmp_path), overrides=["training.epochs=0", "freezing={name=\"all-but-head\"}"])
    with pytest.raises(HookError, match="the run finished and is saved in .*the dashboard is down") as err:
        run_recipe(recipe, progress=False, verbose=False)
    saved = Path(err.value.run_dir)
    assert saved.is_dir() and not saved.name.endswith(".partial") and (saved / "record.json").is_file()
    assert not (saved / "owner.json").exists()

    # a run interrupted in a process that has since died
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    partial = tmp_path / "runs" / "tiny-vector-20000101T000000Z-dead00.partial"
    partial.mkdir()
    import platform

    (partial / "owner.json").write_text(json.dumps({"host": platform.node(), "pid": int(dead.stdout)}))
    (partial / "record.json").write_text((saved / "record.json").read_text())
    records, _ = collect_runs([tmp_path / "runs"])
    assert [r["run_id"] for r in records] == [saved.name]
    code, out, _ = cli("runs", "clean", str(tmp_path / "runs"))
    assert code == 0 and str(partial) in out and partial.exists()
    code, out, _ = cli("runs", "clean", str(tmp_path / "runs"), "--remove")
    assert code == 0 and not partial.exists() and saved.exists()


@pytest.mark.parametrize("case", ["missing", "partial", "not-json", "incomplete", "future"])
def test_reproduce_of_a_bad_record_is_one_typed_line(tmp_path, case):
    from zoo.runner.record import load_record

    run = tmp_path / ("run.partial" if case == "partial" else "run")
    if case != "missing":
        run.mkdir()
        body = {"not-json": "{ nope", "incomplete": json.dumps({"format": 2, "run_id": "x"}),
                "future": json.dumps({"format": 99}), "partial": "{}"}[case]
        (run / "record.json").write_text(body, encoding="utf-8")
    with pytest.raises(RunRecordError):
        load_record(run)
    code, out, err = cli("reproduce", str(run))
    assert code == 1 and not out
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    expected = {"missing": "no such run directory", "partial": "interrupted run", "not-json": "not a JSON run record",
                "incomplete": "the record is incomplete: no ", "future": "record format 99"}[case]
    assert expected in err
