"""The on-disk feature cache: hits skip encoding, keys cover what changes features, writers are safe."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import numpy as np
import pytest

from zoo.runner.features import FEATURES_FORMAT, FeatureCache, encode, inputs_digest

TEXTS = ["how do I top up?", "my card has not arrived", "why was I charged a fee?", "change my PIN"]
PARTS = dict(weights_sha256="w" * 64, dataset_fingerprint="d" * 64, split="train",
             preprocessing={"max_seq_length": 256, "pooling": "mean", "normalize": True, "text_prefix": ""},
             batch_size=32)


class CountingEncoder:
    """Deterministic fake encoder: features from the text bytes; counts calls and texts encoded."""

    def __init__(self, dim: int = 8, delay: float = 0.0, log: Path | None = None):
        self.dim, self.delay, self.log = dim, delay, log
        self.calls = 0
        self.encoded = 0

    def encode(self, texts, *, batch_size=32):
        self.calls += 1
        self.encoded += len(texts)
        if self.log is not None:
            with open(self.log, "a") as fh:
                fh.write("encode\n")
        time.sleep(self.delay)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            codes = np.frombuffer(t.encode(), dtype=np.uint8).astype(np.float32)
            out[i] = np.resize(codes, self.dim) / 255.0
        return out


def test_hit_skips_encoding(tmp_path):
    cache = FeatureCache(tmp_path / "features")
    enc = CountingEncoder()
    first = cache.get_or_compute(enc, TEXTS, **PARTS)
    assert enc.calls == 1 and cache.stats.misses == 1 and cache.stats.hits == 0
    again = cache.get_or_compute(enc, TEXTS, **PARTS)
    assert enc.calls == 1, "a hit must not run the encoder"
    assert cache.stats.hits == 1
    assert again.dtype == np.float32 and again.shape == (4, 8)
    np.testing.assert_array_equal(first, again)
    # a fresh cache object (another run) over the same directory hits too
    other = FeatureCache(tmp_path / "features")
    other.get_or_compute(enc, TEXTS, **PARTS)
    assert enc.calls == 1 and other.stats.hits == 1


def test_default_root_is_the_configured_feature_cache(isolated_env):
    from zoo.config import settings

    cache = FeatureCache()
    assert cache.root == settings().feature_cache == isolated_env / "zoo" / "features"


@pytest.mark.parametrize(
    "change",
    [
        {"weights_sha256": "x" * 64},
        {"dataset_fingerprint": "e" * 64},
        {"split": "test"},
        {"preprocessing": {**PARTS["preprocessing"], "max_seq_length": 128}},
        {"preprocessing": {**PARTS["preprocessing"], "pooling": "cls"}},
        {"preprocessing": {**PARTS["preprocessing"], "normalize": False}},
        {"preprocessing": {**PARTS["preprocessing"], "text_prefix": "query: "}},
        {"batch_size": 64},
    ],
    ids=lambda c: next(iter(c)) + ("." + next(iter(c["preprocessing"].items()))[0] if "preprocessing" in c else ""),
)
def test_key_changes_with_what_changes_the_features(tmp_path, change):
    cache = FeatureCache(tmp_path)
    enc = CountingEncoder()
    base = cache.key(enc, TEXTS, **PARTS)
    assert cache.key(enc, TEXTS, **{**PARTS, **change}) != base
    cache.get_or_compute(enc, TEXTS, **PARTS)
    cache.get_or_compute(enc, TEXTS, **{**PARTS, **change})
    assert enc.calls == 2 and cache.stats.misses == 2 and len(cache.entries()) == 2


def test_key_covers_inputs_and_code_version_but_not_dict_order(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path)
    enc = CountingEncoder()
    base = cache.key(enc, TEXTS, **PARTS)
    reordered = dict(reversed(list(PARTS["preprocessing"].items())))
    assert cache.key(enc, TEXTS, **{**PARTS, "preprocessing": reordered}) == base
    assert cache.key(enc, TEXTS[::-1], **PARTS) != base
    assert cache.key(enc, TEXTS[:3], **PARTS) != base
    import zoo

    monkeypatch.setattr(zoo, "__version__", "99.0")
    assert cache.key(enc, TEXTS, **PARTS) != base
    parts = cache.key_parts(enc, TEXTS, **PARTS)
    assert FEATURES_FORMAT in parts["code"] and parts["inputs_sha256"] == inputs_digest(TEXTS)


def test_inputs_digest_is_unambiguous():
    assert inputs_digest(["ab", "c"]) != inputs_digest(["a", "bc"])
    assert inputs_digest(np.zeros((2, 3), np.float32)) != inputs_digest(np.zeros((3, 2), np.float32))


def test_sidecar_describes_the_entry(tmp_path):
    cache = FeatureCache(tmp_path)
    x = cache.get_or_compute(CountingEncoder(), TEXTS, **PARTS)
    (meta,) = cache.entries()
    assert meta["shape"] == list(x.shape) and meta["dtype"] == "<f4"
    assert meta["parts"]["split"] == "train" and meta["parts"]["preprocessing"]["max_seq_length"] == 256
    assert cache.contains(meta["key"])


def test_half_written_files_are_never_read(tmp_path):
    cache = FeatureCache(tmp_path)
    enc = CountingEncoder()
    key = cache.key(enc, TEXTS, **PARTS)
    array_path, meta_path, _ = cache._paths(key)
    array_path.parent.mkdir(parents=True)
    # a writer that died mid-way left a temporary file and an array without its sidecar
    (array_path.parent / f".{array_path.name}.abc123.tmp").write_bytes(b"\x93NUMPY garbage")
    array_path.write_bytes(b"\x93NUMPY half")
    x = cache.get_or_compute(enc, TEXTS, **PARTS)
    assert enc.calls == 1 and cache.stats.misses == 1
    np.testing.assert_array_equal(x, CountingEncoder().encode(TEXTS))
    # an array truncated after its sidecar was written fails the sha256 check and is recomputed
    array_path.write_bytes(array_path.read_bytes()[:-7])
    y = cache.get_or_compute(enc, TEXTS, **PARTS)
    assert enc.calls == 2 and cache.stats.rejected == 1
    np.testing.assert_array_equal(x, y)
    assert json.loads(meta_path.read_text())["key"] == key


def test_a_crash_while_writing_leaves_no_entry(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path)
    enc = CountingEncoder()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("killed while saving")

    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        cache.get_or_compute(enc, TEXTS, **PARTS)
    monkeypatch.undo()
    assert cache.entries() == [] and not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("*.npy"))
    cache.get_or_compute(enc, TEXTS, **PARTS)
    assert enc.calls == 2 and len(cache.entries()) == 1


def _worker(root: str, log: str, barrier, out: str) -> None:
    cache = FeatureCache(root)
    enc = CountingEncoder(delay=0.5, log=Path(log))
    barrier.wait()
    x = cache.get_or_compute(enc, TEXTS, **PARTS)
    np.save(out, x)
    with open(out + ".stats", "w") as fh:
        json.dump({"hits": cache.stats.hits, "misses": cache.stats.misses, "waited": cache.stats.waited}, fh)


def test_two_processes_computing_one_key_write_one_valid_entry(tmp_path):
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    log = tmp_path / "encode.log"
    outs = [str(tmp_path / f"out{i}.npy") for i in range(2)]
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "cache"), str(log), barrier, outs[i][:-4]))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert log.read_text().count("encode") == 1, "the second process must wait and read, not encode"
    stats = [json.loads(Path(o[:-4] + ".stats").read_text()) for o in outs]
    assert sorted(s["misses"] for s in stats) == [0, 1]
    assert sorted(s["waited"] for s in stats) == [0, 1]
    a, b = (np.load(o) for o in outs)
    np.testing.assert_array_equal(a, b)
    cache = FeatureCache(tmp_path / "cache")
    assert len(cache.entries()) == 1
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 1 and not list((tmp_path / "cache").rglob("*.tmp"))
    np.testing.assert_array_equal(cache.get_or_compute(CountingEncoder(), TEXTS, **PARTS), a)


def test_clear_and_encode(tmp_path):
    cache = FeatureCache(tmp_path)
    enc = CountingEncoder()
    x = cache.get_or_compute(enc, TEXTS, **PARTS)
    cache.get_or_compute(enc, TEXTS, **{**PARTS, "split": "test"})
    assert cache.clear() == 2 and cache.entries() == []
    assert FeatureCache(tmp_path / "missing").clear() == 0
    np.testing.assert_array_equal(encode(enc, TEXTS, batch_size=2), x)
    assert enc.calls == 3


def test_encode_runs_any_backbone_through_preprocess_and_forward_features():
    import torch

    class Vectors(torch.nn.Module):  # a zoo.contracts.Backbone without its own encode()
        modality, embedding_dim = "vector", 2

        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(3, 2)

        def preprocess(self, rows):
            return torch.as_tensor(np.asarray(rows), dtype=torch.float32)

        def forward_features(self, batch):
            assert not self.training and not torch.is_grad_enabled()
            return self.proj(batch)

    torch.manual_seed(0)
    model, rows = Vectors(), np.arange(15, dtype=np.float32).reshape(5, 3)
    got = encode(model, rows, batch_size=2)
    with torch.no_grad():
        np.testing.assert_allclose(got, model.proj(torch.from_numpy(rows)).numpy(), rtol=1e-6)
    assert got.dtype == np.float32 and model.training


def test_encoder_returning_the_wrong_rows_is_an_error(tmp_path):
    class Bad(CountingEncoder):
        def encode(self, texts, *, batch_size=32):
            return super().encode(texts[:-1])

    with pytest.raises(ValueError, match="3, 8"):
        FeatureCache(tmp_path).get_or_compute(Bad(), TEXTS, **PARTS)


def test_a_hit_is_memory_mapped_not_copied(tmp_path):
    """A cache hit maps the file read-only: no second copy of the features in memory."""
    import numpy as np

    from zoo.runner.features import FeatureCache

    class Encoder:
        def encode(self, items, batch_size):
            return np.arange(len(items) * 4, dtype=np.float32).reshape(len(items), 4)

    cache = FeatureCache(tmp_path)
    kw = dict(weights_sha256="w", dataset_fingerprint="d", split="train", preprocessing={}, batch_size=2)
    first = cache.get_or_compute(Encoder(), ["a", "b", "c"], **kw)
    hit = cache.get_or_compute(Encoder(), ["a", "b", "c"], **kw)
    assert cache.stats.hits == 1 and np.array_equal(hit, first) and type(hit) is np.ndarray
    assert not hit.flags.writeable and not hit.flags.owndata  # a view of the mapping, not a loaded copy
