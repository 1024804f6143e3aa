"""Models that leave the zoo: ONNX export and ONNX Runtime int8, Hub export, push, pull, load, predict.

One tiny real run (Banking77 subsets, a linear head on the real all-MiniLM-L6-v2) is made once
per session; every test exports it again from scratch.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from hubserver import MINILM_COMMIT
from test_runner import write_recipe

import zoo
from zoo.cli.main import main
from zoo.errors import CompressionOrderError, ExportError, MissingExtraError

ENV_VARS = ("ZOO_OFFLINE", "ZOO_HOME", "ZOO_REGISTRY", "ZOO_LOCKFILE", "ZOO_CONFIG", "HF_HUB_OFFLINE", "HF_ENDPOINT",
            "HF_HOME", "HF_HUB_CACHE")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, shared_data, minilm_dir):
    """A finished run directory of a real recipe (240 train / 120 test sentences, 2 epochs), made once."""
    from zoo import registry
    from zoo.config import settings
    from zoo.hub import LockFile, import_directory
    from zoo.runner import load_recipe, run_recipe

    base = tmp_path_factory.mktemp("export-run")
    with pytest.MonkeyPatch.context() as mp:
        for var in ENV_VARS:
            mp.delenv(var, raising=False)
        mp.setenv("HF_HUB_CACHE", str(base / "hf" / "hub"))
        mp.setenv("HF_HOME", str(base / "hf"))
        mp.setenv("ZOO_HOME", str(base / "zoo"))
        registry._CACHE.clear()
        s = settings()
        entry = registry.build_registry().entries["all-minilm-l6-v2"]
        import_directory(minilm_dir, repo_id=entry.repo_id, revision=entry.revision, cache_dir=s.hf_cache,
                         lock=LockFile(s.lockfile), entry=entry)
        recipe = load_recipe(write_recipe(base, shared_data, max_train=240, max_test=120, epochs=2))
        result = run_recipe(recipe, progress=False, verbose=False)
    registry._CACHE.clear()
    return result.run_dir


@pytest.fixture(scope="session")
def test_texts(shared_data):
    import csv

    with open(shared_data / "banking77" / "test.csv", encoding="utf-8") as fh:
        return [row["text"] for row in csv.DictReader(fh)]


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- reading a run ------------------------------------------------------------------------


def test_read_run_takes_the_record_dict_or_a_typed_record(tiny_run, monkeypatch):
    from zoo.export import source as source_mod
    from zoo.runner import record as record_mod

    plain = source_mod.read_run(tiny_run)
    rec = json.loads((tiny_run / "record.json").read_text())
    assert plain.run_id == rec["run_id"] and plain.backbone == "all-minilm-l6-v2" and plain.num_classes == 77
    assert plain.max_seq_length == 48 and plain.head == "linear" and plain.backbone_revision == MINILM_COMMIT
    assert len(plain.recipe_digest) == 64 and plain.metrics["head"]["accuracy_ci95"]

    class Typed:  # what a typed run record offers: attributes and to_dict()
        def __init__(self, data):
            self._data = data

        def to_dict(self):
            return self._data

    monkeypatch.setattr(record_mod, "load_record", lambda run_dir: Typed(rec))
    assert source_mod.read_run(tiny_run) == plain


def test_read_run_refuses_what_is_not_a_finished_run(tmp_path):
    from zoo.export import read_run

    with pytest.raises(ExportError, match="record.json"):
        read_run(tmp_path)
    (tmp_path / "record.json").write_text("{not json")
    with pytest.raises(ExportError, match="cannot be read"):
        read_run(tmp_path)


@pytest.mark.slow
def test_a_fine_tuned_run_reloads_with_its_trained_layers(tmp_path, shared_data, warm_cache):
    """The rebuilt model scores the run's own test subset exactly as the run recorded it."""
    from zoo.export import load_run_model, read_run
    from zoo.plugins import get_component, validate_options
    from zoo.runner import load_recipe, run_recipe
    from zoo.data.splits import limit_split as _subset
    from zoo.runner.train import predict

    path = write_recipe(tmp_path, shared_data, max_train=96, max_test=80, epochs=1, freezing="first-k",
                        freezing_options="[freezing.options]\nk = 5\n")
    res = run_recipe(load_recipe(path, overrides=["evaluators=[]", "training.backbone_lr=1e-3"]),
                     progress=False, verbose=False)
    src = read_run(res.run_dir)
    assert src.backbone_weights is not None
    model = load_run_model(src)
    comp = get_component("dataset", src.dataset["loader"])
    bundle = comp.obj(validate_options(comp, src.dataset["options"]), base_dir=tmp_path, seed=src.seed)
    test = _subset(bundle.test, 80, src.seed)
    accuracy = float((predict(model, list(test.inputs)).argmax(1) == np.asarray(test.labels)).mean())
    assert accuracy == res.record["metrics"]["head"]["accuracy"]
    base = zoo.load_backbone("all-minilm-l6-v2")
    trained = dict(model.backbone.named_parameters())
    name = "model.encoder.layer.5.output.dense.weight"
    assert not np.allclose(trained[name].detach().numpy(), dict(base.named_parameters())[name].detach().numpy())


# --- ONNX ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_onnx_export_matches_torch_on_500_banking77_sentences(tiny_run, warm_cache, tmp_path, test_texts, capsys):
    from zoo.export import export_run_onnx, load_run_model
    from zoo.export.hub import Classifier
    from zoo.onnxgraph import OnnxModel

    result = export_run_onnx(tiny_run, tmp_path / "model.onnx")
    p = result.parity
    # the acceptance: 500 real Banking77 test sentences, float32, max abs difference <= 1e-4
    assert p.n == 500 and p.embeddings <= 1e-4 and p.logits is not None and p.logits <= 1e-4
    assert "test split" in result.texts_from

    onnx_model = OnnxModel(result.path, threads=1)
    shapes = {i.name: i.shape for i in onnx_model.session.get_inputs()}
    assert shapes == {k: ["batch", "sequence"] for k in ("input_ids", "attention_mask", "token_type_ids")}
    assert json.loads(onnx_model.metadata["zoo.parity"])["n"] == 500 and onnx_model.has_head
    texts = test_texts[:64]
    torch_model = Classifier(load_run_model(tiny_run), onnx_model.label_names)
    assert onnx_model.predict(texts) == torch_model.predict(texts)
    assert np.abs(onnx_model.logits(texts[:1]) - torch_model.logits(texts[:1])).max() <= 1e-4  # batch of one

    code, out, _ = cli(capsys, "predict", str(result.path), texts[0], texts[1], "--json")
    assert code == 0 and [r["label"] for r in json.loads(out)] == torch_model.predict(texts[:2])
    code, out, _ = cli(capsys, "embed", str(result.path), texts[0], "--dims", "3")
    emb = onnx_model.encode(texts[:1])[0]
    assert code == 0 and f"{emb[0]:+.4f}" in out and "ONNX Runtime" in out


@pytest.mark.slow
def test_backbone_export_without_a_head(warm_cache, tmp_path, test_texts, capsys):
    from zoo.onnxgraph import OnnxModel

    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(test_texts[:40]) + "\n", encoding="utf-8")
    out_file = tmp_path / "minilm.onnx"
    code, out, err = cli(capsys, "export", "--backbone", "all-minilm-l6-v2", "--format", "onnx", str(out_file),
                         "--max-seq-length", "64", "--check-texts", str(texts), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["n"] == 40 and report["embeddings_max_abs_diff"] <= 1e-4 and report["logits_max_abs_diff"] is None
    model = OnnxModel(out_file)
    assert not model.has_head and model.encode(test_texts[:3]).shape == (3, 384)
    code, _, err = cli(capsys, "predict", str(out_file), "hello")
    assert code == 1 and "no head" in err


def test_missing_onnx_extra_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    code, _, err = cli(capsys, "export", "--backbone", "all-minilm-l6-v2", "--format", "onnx")
    assert code == 1 and "pip install 'transferzoo[onnx]'" in err and "onnxruntime" in err
    with pytest.raises(MissingExtraError) as exc:
        from zoo.compress.onnxrt import ort_dynamic_int8

        ort_dynamic_int8(None)  # type: ignore[arg-type]
    assert exc.value.extra == "onnx" and isinstance(exc.value, ImportError)


@pytest.mark.slow
def test_ort_dynamic_int8_pass_has_its_row_in_the_tradeoff_table(tiny_run, warm_cache, shared_data):
    from zoo.compress import LatencyConfig, check_order, format_table, run_passes
    from zoo.export import load_run_model, read_run
    from zoo.runner.train import predict

    import csv

    src = read_run(tiny_run)
    with open(shared_data / "banking77" / "test.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:200]
    texts = [r["text"] for r in rows]
    y = np.array([src.label_names.index(r["category"]) for r in rows])
    model = load_run_model(src)

    def accuracy(m):
        return float((predict(m, texts, batch_size=32).argmax(1) == y).mean())

    batch = model.backbone.tokenize(texts[:32])
    result = run_passes([("ort-dynamic-int8", {"per_channel": True})], model, evaluate=accuracy,
                        example_inputs=(batch,), latency=LatencyConfig(repeats=2, warmup=1))
    base, row = result.rows
    assert row.pass_name == "ort-dynamic-int8" and row.label == "ort-dynamic-int8"
    assert row.size_bytes < 0.7 * base.size_bytes  # int8 MatMul weights in the ONNX file
    assert abs(row.params - base.params) / base.params < 0.01 and row.nonzero < row.params
    assert row.throughput and row.latency_ms and abs(row.metric_delta) <= 0.05
    assert row.atol < 1.0  # logits move by int8 rounding only
    info = result.record[0]["info"]
    assert info["onnx_bytes_int8"] < info["onnx_bytes_fp32"] and "onnx" in result.record[0]["state_after"]
    assert "| ort-dynamic-int8 |" in format_table(result.rows)
    with pytest.raises(CompressionOrderError, match="'ort-dynamic-int8'"):
        check_order(["ort-dynamic-int8", "prune-heads"])


@pytest.mark.slow
def test_a_recipe_runs_ort_dynamic_int8_and_records_its_row(tmp_path, shared_data, warm_cache):
    from zoo.runner import load_recipe, run_recipe

    extra = '\n[[compression]]\nname = "ort-dynamic-int8"\n'
    recipe = load_recipe(write_recipe(tmp_path, shared_data, max_train=160, max_test=80, epochs=2, extra=extra))
    rec = run_recipe(recipe, progress=False, verbose=False).record
    rows = rec["compression"]["tradeoffs"]
    assert [r["pass_name"] for r in rows] == ["baseline", "ort-dynamic-int8"]
    assert rows[1]["size_bytes"] < 0.7 * rows[0]["size_bytes"] and rows[1]["throughput"] > 0
    assert rec["compression"]["passes"][0]["info"]["onnx_bytes_int8"] > 0
    # the head and the probe ran on the ONNX Runtime model: logits for the head, pooled embeddings for the probe
    assert abs(rec["metrics"]["head"]["accuracy"] - rows[1]["metric"]) < 1e-9
    assert rec["metrics"]["logistic-probe"]["accuracy"] > 0.5


# --- Hub ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_hub_export_push_pull_load_predict_round_trip(tiny_run, warm_cache, hub_server, tmp_path, monkeypatch,
                                                      test_texts, capsys):
    import yaml
    from safetensors import safe_open

    from zoo import registry
    from zoo.export import export_hub, load_classifier, load_run_model, push, read_run
    from zoo.export.hub import Classifier
    from zoo.hub import sha256_file

    src = read_run(tiny_run)
    record = json.loads((tiny_run / "record.json").read_text())
    exp = export_hub(tiny_run, tmp_path / "hub", name="banking-tiny")
    d = exp.path
    assert {"model.safetensors", "config.json", "tokenizer.json", "vocab.txt", "README.md",
            "1_Pooling/config.json", "sentence_bert_config.json"} <= set(exp.files)
    assert all(sha256_file(d / f) == sha for f, sha in exp.files.items())
    with safe_open(str(d / "model.safetensors"), "pt") as fh:
        keys = set(fh.keys())
    assert {"head.fc.weight", "head.fc.bias", "embeddings.word_embeddings.weight"} <= keys
    config = json.loads((d / "config.json").read_text())
    assert config["transferzoo"]["head"]["name"] == "linear" and len(config["id2label"]) == 77
    assert json.loads((d / "sentence_bert_config.json").read_text())["max_seq_length"] == 48

    # the model card: base model with its commit, datasets with hashes, metrics with intervals, recipe, version
    card = (d / "README.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    tz = meta["transferzoo"]
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert tz["base_model"]["revision"] == MINILM_COMMIT and tz["zoo_version"] == zoo.__version__
    assert {f["sha256"] for f in tz["datasets"][0]["files"]} == {f["sha256"] for f in record["dataset"]["files"]}
    assert tz["metrics"]["head"]["accuracy_ci95"] == record["metrics"]["head"]["accuracy_ci95"]
    assert tz["recipe"] == record["recipe"]["resolved"]
    lineage = {"parent": "all-minilm-l6-v2", "commit": MINILM_COMMIT, "run_id": src.run_id,
               "recipe_digest": src.recipe_digest}
    assert tz["lineage"] == lineage

    # an edited export is refused before anything is uploaded
    readme = (d / "README.md").read_bytes()
    (d / "README.md").write_bytes(readme + b"\nedited\n")
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    with pytest.raises(ExportError, match="README.md"):
        push(d, "acme/banking-tiny")
    (d / "README.md").write_bytes(readme)
    assert hub_server.pushes == []

    # push: the Hub commit holds exactly the exported bytes; the entry gets repo and commit
    pushed = push(d, "acme/banking-tiny", registry=tmp_path / "layer.toml")
    commit = hub_server.resolve("acme/banking-tiny", "main")
    assert commit is not None and commit.sha == pushed.revision and hub_server.pushes == [(pushed.repo_id, commit.sha)]
    assert {p: b.sha256 for p, b in commit.files.items()} == dict(exp.files)

    # pull, load through the registry like any other entry, predict the same labels
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "layer.toml"))
    registry._CACHE.clear()
    entry = zoo.backbone_info("banking-tiny")
    assert entry.repo_id == "acme/banking-tiny" and entry.revision == pushed.revision
    assert entry.lineage is not None and entry.lineage.to_dict() == lineage
    assert {f.filename: f.sha256 for f in entry.files} == dict(exp.files)
    before = len(hub_server.downloads())
    clf = load_classifier("banking-tiny")
    assert any(p.endswith("model.safetensors") for p in hub_server.downloads()[before:])  # pulled from the Hub
    texts = test_texts[:100]
    original = Classifier(load_run_model(src), src.label_names)
    assert clf.predict(texts) == original.predict(texts)
    assert np.abs(clf.logits(texts) - original.logits(texts)).max() <= 1e-5
    code, out, err = cli(capsys, "predict", "banking-tiny", texts[0], "--json")
    assert code == 0, err
    assert json.loads(out)[0]["label"] == original.predict(texts[:1])[0]
    code, out, _ = cli(capsys, "info", "banking-tiny", "--json")
    assert json.loads(out)["lineage"] == lineage
