"""The runner end to end on real data (Banking77 subsets) and the real all-MiniLM-L6-v2.

Kept small: a few hundred sentences per run. The full examples are run by hand (docs/recipes.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.errors import ReproducibilityError

RECIPE = """\
name = "tiny-banking"
seed = 7
output_dir = "runs"

[backbone]
name = "all-minilm-l6-v2"
batch_size = 32
max_seq_length = 48

[data]
loader = "csv"
max_train = {max_train}
max_validation = 80
max_test = {max_test}

[data.options]
train = "{data}/banking77/train.csv"
test = "{data}/banking77/test.csv"
label_column = "category"
label_names = "{data}/banking77/categories.json"
validation_fraction = 0.1

[head]
name = "linear"

[freezing]
name = "{freezing}"
{freezing_options}

[training]
epochs = {epochs}
lr = 0.05
batch_size = 32

[[evaluators]]
name = "logistic-probe"
"""


def write_recipe(tmp_path: Path, shared_data: Path, *, max_train: int = 240, max_test: int = 120, epochs: int = 3,
                 freezing: str = "all-but-head", freezing_options: str = "", extra: str = "") -> Path:
    path = tmp_path / "recipe.toml"
    text = RECIPE.format(data=shared_data, max_train=max_train, max_test=max_test, epochs=epochs, freezing=freezing,
                         freezing_options=freezing_options) + extra
    path.write_text(text, encoding="utf-8")
    return path


def zoo_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zoo.cli.main", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and (p / "record.json").is_file())


@pytest.mark.slow
def test_probe_run_records_everything_and_second_run_hits_cache(tmp_path, shared_data, warm_cache):
    from zoo.runner import load_recipe, run_recipe

    recipe = load_recipe(write_recipe(tmp_path, shared_data))
    first = run_recipe(recipe, progress=False, verbose=False)
    d = first.run_dir
    assert d.parent == tmp_path / "runs" and not list((tmp_path / "runs").glob("*.partial"))
    for name in ("recipe.toml", "record.json", "head.safetensors", "report.md", "learning_curve.svg",
                 "confusion.svg"):
        assert (d / name).is_file(), name
    rec = json.loads((d / "record.json").read_text())
    assert rec["run_id"] == first.run_id and rec["seed"] == 7 and rec["device"] == "cpu"
    assert rec["backbone"]["repo_id"] == warm_cache.repo_id and rec["backbone"]["revision"] == warm_cache.revision
    assert rec["backbone"]["files"]["model.safetensors"] == warm_cache.file("model.safetensors").sha256
    assert {f["role"] for f in rec["dataset"]["files"]} >= {"train", "test"}
    assert rec["dataset"]["used"]["train"]["n"] == 240 and rec["dataset"]["used"]["test"]["n"] == 120
    assert rec["determinism"]["deterministic_algorithms"] is True
    assert {p["name"] for p in rec["plugins"]} >= {"zoo.default_plugins.heads", "zoo.default_plugins.datasets"}
    assert rec["components"]["head"]["plugin"] == "zoo.default_plugins.heads"
    assert rec["training"]["mode"] == "features" and len(rec["training"]["history"]) == 3
    for name in ("head", "logistic-probe"):
        m = rec["metrics"][name]
        assert 0.0 <= m["accuracy"] <= 1.0 and "macro_f1" in m
    assert rec["metrics"]["logistic-probe"]["accuracy"] > 0.5  # real embeddings separate the intents
    assert rec["feature_cache"]["misses"] >= 3
    # the recorded recipe re-validates
    assert load_recipe(d / "recipe.toml", check_files=True).name == "tiny-banking"

    second = run_recipe(recipe, progress=False, verbose=False)
    rec2 = second.record
    assert rec2["feature_cache"]["hits"] >= 3 and rec2["feature_cache"]["misses"] == 0
    assert rec2["metrics"] == rec["metrics"]
    first_cost = rec["timings"]["features_for_training"] + rec["timings"].get("features", 0)
    second_cost = rec2["timings"]["features_for_training"] + rec2["timings"].get("features", 0)
    assert second_cost * 10 < first_cost, (first_cost, second_cost)


@pytest.mark.slow
def test_two_processes_identical_and_reproduce_confirms(tmp_path, shared_data, warm_cache):
    recipe = write_recipe(tmp_path, shared_data, max_train=100, max_test=80, epochs=2)
    outs = []
    for i in range(2):  # separate feature caches: both processes compute everything
        out = tmp_path / f"out{i}"
        res = zoo_cli("run", str(recipe), "-o", str(out), "--quiet", cwd=tmp_path,
                      env={"ZOO_HOME": str(tmp_path / f"home{i}")})
        assert res.returncode == 0, res.stderr
        outs.append(run_dirs(out)[0])
    a, b = (json.loads((d / "record.json").read_text()) for d in outs)
    assert a["run_id"] != b["run_id"]
    assert a["metrics"] == b["metrics"]
    assert (outs[0] / "head.safetensors").read_bytes() == (outs[1] / "head.safetensors").read_bytes()

    # the re-run reads features from the first run's cache; the comparison above covered computing them
    res = zoo_cli("reproduce", str(outs[0]), "--quiet", cwd=tmp_path, env={"ZOO_HOME": str(tmp_path / "home0")})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "metrics: identical" in res.stdout and "head.safetensors: byte-identical" in res.stdout
    assert "result: IDENTICAL" in res.stdout


def test_reproduce_refuses_changed_input(tmp_path, shared_data):
    from zoo.runner.reproduce import check_inputs

    data = tmp_path / "train.csv"
    data.write_text("text,category\nhello,a\n", encoding="utf-8")
    from zoo._hashing import sha256_file
    from zoo.registry import backbone_info

    entry = backbone_info("all-minilm-l6-v2")
    record = {
        "backbone": {"name": entry.name, "repo_id": entry.repo_id, "revision": entry.revision,
                     "files": {f.filename: f.sha256 for f in entry.files}},
        "dataset": {"files": [{"role": "train", "path": str(data), "sha256": sha256_file(data)}]},
        "zoo_version": "0.1.0",
    }
    check_inputs(record)  # unchanged: fine
    data.write_text("text,category\nhello,b\n", encoding="utf-8")
    with pytest.raises(ReproducibilityError, match="dataset file train"):
        check_inputs(record)
    record["backbone"]["revision"] = "0" * 40
    with pytest.raises(ReproducibilityError, match="now resolves to"):
        check_inputs(record)


@pytest.mark.slow
def test_interrupted_run_leaves_only_partial(tmp_path, shared_data, warm_cache):
    from zoo.hookspecs import hookimpl
    from zoo.plugins import get_manager
    from zoo.runner import load_recipe, run_recipe

    class Boom:
        @hookimpl
        def zoo_epoch_end(self, run, epoch, metrics):
            raise KeyboardInterrupt

    recipe = load_recipe(write_recipe(tmp_path, shared_data, max_train=80, epochs=2))
    pm = get_manager()
    pm.register(Boom(), name="test-boom")
    try:
        with pytest.raises(KeyboardInterrupt):
            run_recipe(recipe, progress=False, verbose=False)
    finally:
        pm.unregister(name="test-boom")
    entries = list((tmp_path / "runs").iterdir())
    assert len(entries) == 1 and entries[0].name.endswith(".partial")
    assert not (entries[0] / "record.json").exists()
    from zoo.errors import RunRecordError

    with pytest.raises(RunRecordError, match="interrupted"):
        from zoo.runner.record import load_record

        load_record(entries[0])


@pytest.mark.slow
def test_finetune_last_layers_with_llrd_and_gradual_unfreezing(tmp_path, shared_data, warm_cache):
    from zoo.runner import load_recipe, run_recipe

    path = write_recipe(tmp_path, shared_data, max_train=96, epochs=2, freezing="first-k",
                        freezing_options="[freezing.options]\nk = 4\n")
    recipe = load_recipe(path, overrides=["training.layer_lr_decay=0.5", "training.gradual_unfreezing=true",
                                          "training.backbone_lr=1e-4", "evaluators=[]"])
    res = run_recipe(recipe, progress=False, verbose=False)
    rec = res.record
    assert rec["training"]["mode"] == "finetune" and rec["training"]["frozen_prefix_layers"] == 4
    groups = {g["name"]: g["lr"] for g in rec["training"]["param_groups"]}
    assert groups["layer5"] == pytest.approx(1e-4) and groups["layer4"] == pytest.approx(5e-5)
    assert groups["head"] == pytest.approx(0.05) and "layer3" not in groups
    assert (res.run_dir / "backbone-trainable.safetensors").is_file()
    from safetensors.torch import load_file

    tensors = load_file(res.run_dir / "backbone-trainable.safetensors")
    assert tensors and all(".layer.4." in k or ".layer.5." in k for k in tensors)
    assert set(rec["metrics"]) == {"head"}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The number of unique classes")
def test_plan_and_sweep(tmp_path, shared_data, warm_cache, capsys, monkeypatch):
    from zoo.cli.main import main

    path = write_recipe(tmp_path, shared_data, max_train=120, epochs=2,
                        extra='\n[sweep]\nmethod = "grid"\n[sweep.params]\n"training.lr" = [0.01, 0.1]\n')
    monkeypatch.chdir(tmp_path)
    assert main(["plan", str(path)]) == 0  # in process; the `zoo` subprocess is the test above
    out = capsys.readouterr().out
    assert "zoo.default_plugins.heads" in out and "29,645 trainable" in out
    assert "train 120" in out and "sweep: grid" in out

    from zoo.runner import load_recipe, run_sweep

    sweep = run_sweep(load_recipe(path), progress=False, verbose=False)
    assert len(sweep.trials) == 2 and sweep.best is not None
    assert sweep.metric.endswith("val_accuracy")
    assert sweep.best.validation == max(t.validation for t in sweep.trials)
    assert all((t.run_dir / "record.json").is_file() for t in sweep.trials)
    assert json.loads(sweep.summary_path.read_text())["best"] == sweep.best.index
    assert "chosen on validation only" in sweep.format()


def test_frozen_prefix_shortcut_matches_full_forward(warm_cache):
    import numpy as np
    import torch

    import zoo
    from zoo.default_plugins.freezing import FirstKOptions, freeze_first_k
    from zoo.default_plugins.heads import build_linear
    from zoo.runner.model import TransferModel, frozen_prefix_layers
    from zoo.runner.train import predict

    torch.manual_seed(0)
    model = TransferModel(zoo.load_backbone("all-minilm-l6-v2"), build_linear(384, 5))
    freeze_first_k(model, FirstKOptions(k=4))
    assert frozen_prefix_layers(model) == 4
    texts = ["I am still waiting on my card?", "What can I do if my card still hasn't arrived after 2 weeks?",
             "top up", "Why was I charged a fee for a cash withdrawal at the ATM this morning?"]
    full = predict(model, texts, batch_size=3)
    short = predict(model, texts, batch_size=3, prefix_layers=4)
    np.testing.assert_allclose(short, full, atol=1e-5)


@pytest.mark.slow
def test_compression_after_training_records_the_trade_off(tmp_path, shared_data, warm_cache, capsys):
    """Train a head, then prune FFN neurons and quantize: each step measured and scored with the head."""
    from zoo.runner import load_recipe, run_recipe

    extra = '\n[[compression]]\nname = "prune-ffn"\noptions = { fraction = 0.25 }\n\n[[compression]]\nname = "dynamic-int8"\n'
    recipe = load_recipe(write_recipe(tmp_path, shared_data, max_train=160, max_test=80, epochs=2, extra=extra))
    result = run_recipe(recipe, progress=False)
    comp = result.record["compression"]
    rows = comp["tradeoffs"]
    assert [r["pass_name"] for r in rows][1:] == ["prune-ffn", "dynamic-int8"]
    assert rows[1]["params"] < rows[0]["params"] and rows[2]["size_bytes"] < rows[1]["size_bytes"]
    assert all(r["latency_ms"] > 0 and 0.0 <= r["metric"] <= 1.0 for r in rows)
    assert [p["pass"] for p in comp["passes"]] == ["prune-ffn", "dynamic-int8"]
    assert all(r["throughput"] > 0 for r in rows)  # sentences per second, end to end on the 80 test sentences
    assert rows[1]["throughput_source"].startswith("end to end on 80 texts")
    # the head's test metric is the final step's score (reused, not predicted a second time)
    assert result.record["metrics"]["head"]["accuracy"] == rows[-1]["metric"]
    assert "| prune-ffn -> dynamic-int8 |" in capsys.readouterr().err  # the table zoo run prints
    report = (result.run_dir / "report.md").read_text()
    assert "## Compression trade-offs" in report and (result.run_dir / "tradeoff_size.svg").is_file()
