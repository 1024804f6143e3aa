"""Compression passes on the real all-MiniLM-L6-v2 and 200 real Banking77 sentences.

The encoder is loaded once through ``zoo.load_backbone`` (from a warm Hub cache) and copied
for each test. Latency is not asserted here (it is noisy on shared machines): see
``bench/bench_compression.py`` for measured speed-ups.
"""

from __future__ import annotations

import copy
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from zoo.compress import (
    PassSpec,
    TrainingData,
    check_order,
    format_table,
    load_compressed,
    run_passes,
    save_compressed,
)
from zoo.compress.distill import every_other_layer, make_student
from zoo.compress.prune import has_pruning_leftovers, sparsity
from zoo.compress.quantize import DYNAMIC_LINEAR_TYPES, WeightInt8Linear
from zoo.compress.structure import describe
from zoo.contracts import PassResult
from zoo.errors import CompressionOrderError, CompressionPassError

N_SENTENCES = 200
PASS_NAMES = {"magnitude-prune", "prune-heads", "prune-ffn", "dynamic-int8", "half", "weight-int8", "distill"}
_CACHE: dict[str, nn.Module] = {}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a shared machine, OpenMP threads that wait on each other cost more than they give."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def sentences(shared_data: Path) -> list[str]:
    with (shared_data / "banking77" / "test.csv").open(newline="", encoding="utf-8") as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    return texts[:: len(texts) // N_SENTENCES][:N_SENTENCES]  # spread over the file


@pytest.fixture
def minilm(request) -> nn.Module:
    """A fresh copy of the real fp32 all-MiniLM-L6-v2 text encoder."""
    if "minilm" not in _CACHE:
        import zoo

        request.getfixturevalue("warm_cache")  # the one load reads the real files from this test's Hub cache

        _CACHE["minilm"] = zoo.load_backbone("all-minilm-l6-v2", offline=True).eval()
    return copy.deepcopy(_CACHE["minilm"])


@pytest.fixture
def batch(minilm, sentences) -> tuple[torch.Tensor, ...]:
    b = minilm.tokenize(sentences[:16])
    return b["input_ids"], b["attention_mask"], b["token_type_ids"]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if type(m) is nn.Linear]


# --- pruning --------------------------------------------------------------------------------


def test_unstructured_pruning_reaches_sparsity_and_is_permanent(minilm, sentences, batch):
    keys = set(minilm.state_dict())
    result = run_passes([("magnitude-prune", {"sparsity": 0.5})], minilm, example_inputs=batch, latency=None)
    model = result.model

    assert sparsity(model) == pytest.approx(0.5, abs=1e-4)
    assert has_pruning_leftovers(model) == []
    assert set(model.state_dict()) == keys  # no weight_orig / weight_mask
    assert all(not m._forward_pre_hooks for m in model.modules())
    assert sparsity(minilm) == 0.0  # run_passes worked on a copy
    base, after = result.rows
    assert after.params == base.params and after.size_bytes == base.size_bytes  # dense zeros: same file size
    linear_weights = sum(m.weight.numel() for m in _linears(minilm))
    assert base.nonzero - after.nonzero == pytest.approx(linear_weights / 2, rel=1e-3)
    assert model.encode(sentences[:8]).shape == (8, 384)


def test_unstructured_pruning_per_layer_scope(minilm):
    from zoo.compress.prune import magnitude_prune

    layer = minilm.model.encoder.layer[0]
    assert magnitude_prune(layer, sparsity=0.3, scope="layer")["sparsity"] == pytest.approx(0.3, abs=1e-4)
    for linear in _linears(layer):
        assert float((linear.weight == 0).float().mean()) == pytest.approx(0.3, abs=1e-3)


def test_structured_pruning_removes_heads_and_neurons(minilm, sentences, batch):
    passes = [("prune-heads", {"fraction": 0.5}), ("prune-ffn", {"fraction": 0.25})]
    result = run_passes(passes, minilm, example_inputs=batch, latency=None)
    model = result.model
    shape = describe(model)["model"]
    assert shape["heads"] == [6] * 6 and shape["intermediate"] == [1152] * 6
    layer = model.model.encoder.layer[0]
    assert layer.attention.self.query.weight.shape == (192, 384)
    assert layer.attention.output.dense.weight.shape == (384, 192)
    assert layer.output.dense.weight.shape == (384, 1152)

    base, heads, ffn = result.rows
    # per layer: q, k, v lose 192 rows (+ bias), out loses 192 columns; the FFN loses 384 neurons
    assert base.params - heads.params == 6 * (3 * (192 * 384 + 192) + 384 * 192)
    assert heads.params - ffn.params == 6 * (384 * 384 + 384 + 384 * 384)
    assert base.size_bytes > heads.size_bytes > ffn.size_bytes
    assert result.record[0]["info"]["heads_after"] == 36

    emb = model.encode(sentences[:32])
    assert emb.shape == (32, 384) and np.isfinite(emb).all()
    assert describe(minilm)["model"]["heads"] == [12] * 6  # the input model is unchanged


def test_global_head_pruning_keeps_one_head_per_layer(minilm):
    run = run_passes([("prune-heads", {"count": 66, "scope": "global"})], minilm, latency=None)
    assert describe(run.model)["model"]["heads"] == [1] * 6


def test_impossible_pruning_is_refused(minilm):
    with pytest.raises(CompressionPassError, match="at least one"):
        run_passes([("prune-heads", {"count": 12})], minilm, latency=None)


# --- quantization ---------------------------------------------------------------------------


def test_dynamic_int8_stays_close_to_fp32(minilm, sentences, batch):
    reference = minilm.encode(sentences)
    result = run_passes(["dynamic-int8"], minilm, example_inputs=batch, latency=None)
    model = result.model
    assert not _linears(model)
    assert sum(isinstance(m, DYNAMIC_LINEAR_TYPES) for m in model.modules()) == 36
    cos = _cosines(model.encode(sentences), reference)
    assert cos.mean() > 0.97 and cos.min() > 0.93
    base, after = result.rows
    assert after.size_bytes < 0.7 * base.size_bytes
    assert after.params == base.params  # int8 weights are still counted

    # the FFN output projections of the first two layers carry most of the error
    skip = ("*.layer.0.output.dense", "*.layer.1.output.dense")
    partial = run_passes([("dynamic-int8", {"skip": skip})], minilm, latency=None)
    assert len(_linears(partial.model)) == 2 and partial.record[0]["info"]["skipped"] == 2
    assert _cosines(partial.model.encode(sentences[:64]), reference[:64]).mean() > cos[:64].mean()


@pytest.mark.parametrize("options, min_cos", [({"dtype": "bfloat16"}, 0.99), ({"dtype": "float16"}, 0.999)])
def test_half_precision(minilm, sentences, options, min_cos):
    reference = minilm.encode(sentences[:32])
    model = run_passes([("half", options)], minilm, latency=None).model
    assert {p.dtype for p in model.parameters()} == {getattr(torch, options["dtype"])}
    assert _cosines(model.encode(sentences[:32]), reference).min() > min_cos


@pytest.mark.parametrize("compute_dtype", ["float32", "bfloat16"])
def test_weight_only_int8(minilm, sentences, compute_dtype):
    reference = minilm.encode(sentences[:32])
    model = run_passes([("weight-int8", {"compute_dtype": compute_dtype})], minilm, latency=None).model
    layers = [m for m in model.modules() if isinstance(m, WeightInt8Linear)]
    assert len(layers) == 36 and not _linears(model)
    assert layers[0].weight_int8.dtype == torch.int8
    assert _cosines(model.encode(sentences[:32]), reference).min() > 0.99


# --- order ----------------------------------------------------------------------------------


def test_pruning_after_quantization_is_refused(minilm):
    with pytest.raises(CompressionOrderError, match="Put 'magnitude-prune' before 'dynamic-int8'") as info:
        run_passes(["dynamic-int8", "magnitude-prune"], minilm, latency=None)
    assert (info.value.step, info.value.pass_name, info.value.blocker) == (2, "magnitude-prune", "dynamic-int8")
    with pytest.raises(CompressionOrderError, match="'prune-heads' needs floating-point weights"):
        check_order(["weight-int8", "prune-heads"])
    with pytest.raises(CompressionOrderError, match="would fill in the zeros"):
        check_order(["magnitude-prune", "distill"])
    with pytest.raises(CompressionOrderError, match="keep only one of them"):
        check_order(["half", "dynamic-int8"])
    states = check_order(["prune-heads", "prune-ffn", "magnitude-prune", "dynamic-int8"])
    assert states[-1] == {"quantized", "sparse"}


def test_distill_needs_data(minilm):
    with pytest.raises(CompressionPassError, match="TrainingData"):
        run_passes(["distill"], minilm, latency=None)


# --- saving ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "passes",
    [
        [("prune-heads", {"fraction": 0.25}), ("prune-ffn", {"fraction": 0.5}), "dynamic-int8"],
        [("magnitude-prune", {"sparsity": 0.5, "scope": "layer"}), ("dynamic-int8", {"per_channel": False})],
        [("prune-ffn", {"fraction": 0.5}), ("weight-int8", {"compute_dtype": "bfloat16"})],
        ["half"],
    ],
    ids=["structured+int8", "sparse+int8-per-tensor", "ffn+weight-int8", "bf16"],
)
def test_save_and_reload_give_identical_outputs(minilm, sentences, batch, tmp_path, passes):
    result = run_passes(passes, minilm, example_inputs=batch, latency=None)
    save_compressed(result.model, result.record, tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = load_compressed(tmp_path, minilm)
    assert np.array_equal(loaded.encode(sentences[:64]), result.model.encode(sentences[:64]))
    assert describe(minilm)["model"]["heads"] == [12] * 6  # the base model is left as it was


def test_changed_weights_file_is_refused(minilm, tmp_path):
    result = run_passes(["half"], minilm, latency=None)
    save_compressed(result.model, result.record, tmp_path)
    weights = tmp_path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(CompressionPassError, match="changed after it was saved"):
        load_compressed(tmp_path, minilm)


class _Opaque(nn.Module):
    """Wraps a module and keeps non-tensor extra state, so its model cannot go to safetensors."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, *args):
        return self.inner(*args)

    def get_extra_state(self):
        return {"opaque": True}

    def set_extra_state(self, state):
        pass


def _wrap_ffn(model, options, **_):
    for layer in model.model.encoder.layer:
        layer.intermediate.dense = _Opaque(layer.intermediate.dense)
    return PassResult(model, {})


def test_unsaveable_state_falls_back_to_replaying_the_passes(minilm, sentences, tmp_path):
    from zoo.hookspecs import hookimpl
    from zoo.plugins import make_manager

    class Plugin:
        @hookimpl
        def register_compression_passes(self, register):
            register("opaque-ffn", PassSpec("opaque-ffn", _wrap_ffn, requires=frozenset({"float-weights"}),
                                            doc="Test pass with opaque state."))

    pm = make_manager(builtins=["compression"], entry_points=False)
    pm.register(Plugin(), "test-opaque")
    passes = [("prune-heads", {"fraction": 0.25}), "opaque-ffn", "dynamic-int8"]
    result = run_passes(passes, minilm, latency=None, manager=pm, seed=3)
    save_compressed(result.model, result.record, tmp_path, seed=3)
    assert not (tmp_path / "model.safetensors").exists()
    loaded = load_compressed(tmp_path, minilm, manager=pm)
    assert np.array_equal(loaded.encode(sentences[:32]), result.model.encode(sentences[:32]))


# --- distillation ---------------------------------------------------------------------------


def test_student_copies_every_other_teacher_layer(minilm):
    assert every_other_layer(6, 3) == [0, 2, 4] and every_other_layer(12, 4) == [0, 3, 6, 9]
    student = make_student(minilm, layers=[0, 2, 4])
    assert student.model.config.num_hidden_layers == 3 and len(minilm.model.encoder.layer) == 6
    for s_layer, t_index in zip(student.model.encoder.layer, [0, 2, 4]):
        t_layer = minilm.model.encoder.layer[t_index]
        assert all(torch.equal(a, b) for a, b in zip(s_layer.state_dict().values(), t_layer.state_dict().values()))


def test_distilled_student_is_smaller_and_trains(minilm, sentences, batch, tmp_path):
    options = {"student_layers": 3, "max_texts": 32, "epochs": 1, "batch_size": 16, "hidden_weight": 1.0}
    result = run_passes([("distill", options)], minilm, example_inputs=batch, latency=None,
                        data=TrainingData(sentences))
    student = result.model
    assert len(student.model.encoder.layer) == 3
    info = result.record[0]["info"]
    assert info["objective"] == "embedding" and info["layers"] == [0, 2, 4] and info["steps"] == 2
    assert np.isfinite(info["loss_last_epoch"])
    base, after = result.rows
    assert base.params - after.params == 3 * sum(p.numel() for p in minilm.model.encoder.layer[0].parameters())
    assert student.encode(sentences[:4]).shape == (4, 384)
    save_compressed(student, result.record, tmp_path)
    assert np.array_equal(load_compressed(tmp_path, minilm).encode(sentences[:16]), student.encode(sentences[:16]))


def test_logit_distillation_with_hard_labels(minilm, sentences):
    """Hinton KD on a classifier shaped like the runner's model: ``head(encoder(**batch))``, called as model(batch)."""

    class Classifier(nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder, self.head = encoder, nn.Linear(384, 4)

        def forward(self, batch):
            return self.head(self.encoder(**batch))

    torch.manual_seed(0)
    teacher = Classifier(minilm)
    labels = [i % 4 for i in range(32)]
    options = {"objective": "logits", "temperature": 2.0, "alpha": 0.7, "batch_size": 16, "layers": (0, 5)}
    result = run_passes([("distill", options)], teacher, latency=None, data=TrainingData(sentences[:32], labels))
    assert result.record[0]["info"]["objective"] == "logits"
    assert len(result.model.encoder.model.encoder.layer) == 2
    assert result.model(minilm.tokenize(sentences[:3])).shape == (3, 4)
    with pytest.raises(CompressionPassError, match="class scores"):
        run_passes([("distill", {"objective": "logits", "max_texts": 8})], teacher, latency=None,
                   data=TrainingData(sentences[:8], [7] * 8))


# --- plugin and table -----------------------------------------------------------------------


def test_builtin_passes_are_registered_with_options():
    from zoo.plugins import list_components, make_manager

    pm = make_manager(entry_points=False)
    found = {c.name: c for c in list_components("compression", manager=pm)}
    assert PASS_NAMES <= set(found)
    for name in PASS_NAMES:
        assert found[name].options is not None and found[name].plugin == "zoo.default_plugins.compression"


def test_plugin_module_does_not_import_torch():
    code = "import sys, zoo.default_plugins.compression; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_trade_off_table_has_one_row_per_step(minilm, batch):
    from zoo.compress import LatencyConfig

    small = tuple(t[:4] for t in batch)
    result = run_passes([("prune-ffn", {"fraction": 0.5}), "dynamic-int8"], minilm, example_inputs=small,
                        latency=LatencyConfig(repeats=2, warmup=1), evaluate=lambda m: 0.5)
    table, note = format_table(result.rows).split("\n\n")
    lines = table.splitlines()
    assert len(lines) == 2 + 3 and "size MB" in lines[0] and "prune-ffn -> dynamic-int8" in lines[-1]
    assert note == "throughput: model on the timed batches"  # says it is not what a user gets end to end
    assert all(r.latency_ms and r.latency_ms > 0 for r in result.rows)
    assert result.rows[-1].metric_delta == 0.0
    assert result.record[-1]["row"]["latency_ms"] == result.rows[-1].latency_ms


def test_trade_off_throughput_is_end_to_end_on_real_texts(minilm, sentences):
    """With texts, the table's throughput is texts/s of the whole encode path, as bench/bench_encode.py measures."""
    from zoo.compress import LatencyConfig

    texts = sentences[:12]
    result = run_passes([("prune-heads", {"fraction": 0.25}), "dynamic-int8"], minilm,
                        latency=LatencyConfig(repeats=2, warmup=1), texts=texts,
                        run_texts=lambda m, t: m.encode(t, batch_size=4), throughput=LatencyConfig(repeats=2, warmup=1))
    assert all(r.throughput and r.throughput > 0 and r.latency_ms is None for r in result.rows)
    assert all("end to end on 12 texts, median of 2 interleaved rounds" in r.throughput_source for r in result.rows)
    table = format_table(result.rows)
    assert "throughput: end to end" in table and table.splitlines()[2].split(" | ")[6] == "1.00x"
    # the packed encode path runs pruned heads and int8 linears: same embeddings as padded batches
    # (one text per batch: dynamic int8 scales activations per batch, so batch company changes its output)
    model = result.model
    packed = model.encode(texts, batch_size=1)
    model.packed = False
    padded = model.encode(texts, batch_size=1)
    assert _cosines(packed, padded).min() > 0.9999
