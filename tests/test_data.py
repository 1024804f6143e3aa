"""zoo.data: loaders on the real shared datasets, fingerprints, splits, and clear errors."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo.data import (
    CsvOptions,
    DatasetBundle,
    IdxOptions,
    JsonlOptions,
    LinesPerLabelOptions,
    SklearnOptions,
    TextLabelTsvOptions,
    TsvOptions,
    carve_splits,
    kfold,
    load_csv,
    load_idx,
    load_jsonl,
    load_lines_per_label,
    load_sklearn,
    load_text_label_tsv,
    load_tsv,
    sha256_file,
)
from zoo.data import hashing
from zoo.errors import DatasetError, DatasetFileNotFoundError, OptionsError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SENTEVAL = DATA / "senteval"
MNIST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # mnist/SOURCE.md

BANKING = CsvOptions(train="train.csv", test="test.csv", label_column="category", label_names="categories.json")
MR = LinesPerLabelOptions(files=("pos=MR/rt-polarity.pos", "neg=MR/rt-polarity.neg"))
SST2 = TextLabelTsvOptions(train="sentiment-train", validation="sentiment-dev", test="sentiment-test")
DIGITS = SklearnOptions(name="digits", validation_fraction=0.1, test_fraction=0.2)
MNIST = IdxOptions(train_images="t10k-images-idx3-ubyte.gz", train_labels="t10k-labels-idx1-ubyte.gz")


@pytest.fixture(scope="module")
def banking() -> DatasetBundle:
    return load_csv(BANKING, base_dir=DATA / "banking77", seed=0)


@pytest.fixture(scope="module")
def mr() -> DatasetBundle:
    return load_lines_per_label(MR, base_dir=SENTEVAL, seed=0)


@pytest.fixture(scope="module")
def digits() -> DatasetBundle:
    return load_sklearn(DIGITS, base_dir=DATA, seed=0)


# --- real datasets ------------------------------------------------------------------------


def test_banking77_sizes_and_category_order(banking: DatasetBundle) -> None:
    categories = json.loads((DATA / "banking77" / "categories.json").read_text())
    assert (len(banking.train), len(banking.test)) == (10003, 3080)
    assert banking.validation is None
    assert banking.label_names == tuple(categories) and banking.num_classes == 77
    assert banking.modality == "text"
    assert banking.test.class_counts().tolist() == [40] * 77
    assert banking.train.class_counts().min() == 35 and banking.train.class_counts().max() == 187
    # a quoted field with a comma is one text, not two columns
    i = banking.train.inputs.index("How do I know if I will get my card, or if it is lost?")
    assert banking.label_names[banking.train.labels[i]] == "card_arrival"
    assert {f.role for f in banking.sources} == {"train", "test", "label_names"}
    train_file = next(f for f in banking.sources if f.role == "train")
    assert train_file.sha256 == hashlib.sha256((DATA / "banking77" / "train.csv").read_bytes()).hexdigest()
    assert train_file.size == 839073


def test_mr_latin1_lines(mr: DatasetBundle) -> None:
    assert len(mr.train) == 10662 and mr.test is None
    assert mr.label_names == ("pos", "neg")
    assert mr.train.class_counts().tolist() == [5331, 5331]
    # line 44 of rt-polarity.pos holds Latin-1 bytes 0xf3 and 0xed
    assert mr.train.inputs[43].startswith("'compleja e intelectualmente retadora , el ladrón de orquídeas")
    # 0x85 bytes decode to U+0085 and must not split a line (str.splitlines would make 5344)
    assert sum("\x85" in t for t in mr.train.inputs[:5331]) > 0


def test_cr_from_directory_glob_keeps_senteval_count() -> None:
    cr = load_lines_per_label(LinesPerLabelOptions(directory="CR", glob="custrev.*"), base_dir=SENTEVAL, seed=0)
    assert len(cr.train) == 3775 and cr.label_names == ("neg", "pos")
    assert cr.train.class_counts().tolist() == [1368, 2407]
    skipped = load_lines_per_label(
        LinesPerLabelOptions(directory="CR", glob="custrev.*", skip_blank=True), base_dir=SENTEVAL, seed=0
    )
    assert len(skipped.train) == 3771 and skipped.fingerprint != cr.fingerprint


def test_sst2_given_splits() -> None:
    sst = load_text_label_tsv(SST2, base_dir=SENTEVAL / "SST2", seed=0)
    assert [len(s) for s in sst.splits.values()] == [67349, 872, 1821]
    assert sst.label_names == ("0", "1")
    assert sst.train.class_counts().tolist() == [29780, 37569]
    assert sst.validation.class_counts().tolist() == [428, 444]
    assert sst.test.class_counts().tolist() == [912, 909]
    assert sst.train.inputs[0] == "hide new secretions from the parental units"
    assert sst.train.labels[0] == 0


def test_mnist_t10k() -> None:
    mnist = load_idx(MNIST, base_dir=DATA / "mnist", seed=0)
    x, y = mnist.train.inputs, mnist.train.labels
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.dtype == np.int64 and y[0] == 7
    assert mnist.train.class_counts().tolist() == MNIST_COUNTS
    assert mnist.label_names == tuple("0123456789") and mnist.modality == "image"
    assert not x.flags.writeable and not y.flags.writeable


def test_sklearn_digits(digits: DatasetBundle) -> None:
    whole = load_sklearn(SklearnOptions(name="digits"), base_dir=DATA, seed=0)
    assert len(whole.train) == 1797 and whole.train.inputs.shape == (1797, 8, 8)
    assert whole.modality == "image" and whole.num_classes == 10
    extra = dict(whole.provenance.extra)
    import sklearn

    assert extra["sklearn"] == sklearn.__version__ and len(extra["data_sha256"]) == 64
    assert sum(len(s) for s in digits.splits.values()) == 1797
    iris = load_sklearn(SklearnOptions(name="iris"), base_dir=DATA, seed=0)
    assert iris.modality == "vector" and iris.train.inputs.shape == (150, 4)
    assert iris.label_names == ("setosa", "versicolor", "virginica")


# --- fingerprints -------------------------------------------------------------------------


def test_fingerprint_is_stable_across_loads(banking: DatasetBundle) -> None:
    again = load_csv(BANKING, base_dir=DATA / "banking77", seed=0)
    assert again.fingerprint == banking.fingerprint
    assert again.train.fingerprint == banking.train.fingerprint
    assert len({banking.train.fingerprint, banking.test.fingerprint, banking.fingerprint}) == 3
    # the seed does not matter when nothing is carved from it
    assert load_csv(BANKING, base_dir=DATA / "banking77", seed=7).fingerprint == banking.fingerprint


def test_fingerprint_changes_with_options_and_content(banking: DatasetBundle, tmp_path: Path) -> None:
    no_names = dataclasses.replace(BANKING, label_names=None)
    assert load_csv(no_names, base_dir=DATA / "banking77", seed=0).fingerprint != banking.fingerprint
    assert load_sklearn(SklearnOptions(name="wine"), base_dir=DATA, seed=0).fingerprint != (
        load_sklearn(SklearnOptions(name="iris"), base_dir=DATA, seed=0).fingerprint
    )
    path = tmp_path / "train.csv"
    path.write_text("text,label\na,x\nb,y\n")
    first = load_csv(CsvOptions(), base_dir=tmp_path, seed=0)
    path.write_text("text,label\na,x\nc,y\n")
    os.utime(path, ns=(1, 1))  # a different mtime, so the memoized hash is not reused
    second = load_csv(CsvOptions(), base_dir=tmp_path, seed=0)
    assert first.fingerprint != second.fingerprint
    assert second.provenance.to_dict()["fingerprint"] == second.fingerprint


def test_sha256_file_chunks_and_sees_edits_that_keep_size_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(hashing.CHUNK_SIZE * 2 + 17)
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    stat = path.stat()
    edited = bytes([data[0] ^ 1]) + data[1:]
    path.write_bytes(edited)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime: a memo would miss it
    assert sha256_file(path) == hashlib.sha256(edited).hexdigest()


# --- splits -------------------------------------------------------------------------------


def test_stratified_carving_is_deterministic_and_stratified(digits: DatasetBundle) -> None:
    again = load_sklearn(DIGITS, base_dir=DATA, seed=0)
    for name in ("train", "validation", "test"):
        np.testing.assert_array_equal(again.splits[name].inputs, digits.splits[name].inputs)
    other = load_sklearn(DIGITS, base_dir=DATA, seed=1)
    assert other.fingerprint != digits.fingerprint
    assert not np.array_equal(other.test.inputs, digits.test.inputs)
    ratio = digits.test.class_counts() / digits.train.class_counts()
    assert np.all(np.abs(ratio - 0.2 / 0.7) < 0.05)
    assert (len(digits.train), len(digits.validation), len(digits.test)) == (1257, 180, 360)


def test_carve_keeps_test_fixed_when_validation_changes() -> None:
    labels = np.repeat(np.arange(4), 50)
    a = carve_splits(labels, test_fraction=0.2, seed=3)
    b = carve_splits(labels, validation_fraction=0.25, test_fraction=0.2, seed=3)
    np.testing.assert_array_equal(a["test"], b["test"])
    assert sorted(np.concatenate(list(b.values())).tolist()) == list(range(200))


def test_kfold_is_deterministic_and_partitions(mr: DatasetBundle) -> None:
    folds = mr.folds(10, seed=0)
    again = kfold(mr.train.labels, n_splits=10, seed=0)
    assert len(folds) == 10
    for (tr, te), (tr2, te2) in zip(folds, again):
        np.testing.assert_array_equal(tr, tr2)
        np.testing.assert_array_equal(te, te2)
        assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == 10662
        assert abs(int((mr.train.labels[te] == 0).sum()) - 533) <= 1  # stratified: half of each fold
    assert np.array_equal(np.sort(np.concatenate([te for _, te in folds])), np.arange(10662))
    assert not np.array_equal(folds[0][1], mr.folds(10, seed=1)[0][1])
    sub = mr.train.subset(folds[0][1], name="fold0-test")
    assert len(sub) == len(folds[0][1]) and sub.fingerprint != mr.train.fingerprint


def test_kfold_rejects_too_many_folds() -> None:
    with pytest.raises(DatasetError, match="smallest class has only 3"):
        kfold(np.array([0, 0, 0, 1, 1, 1, 1]), n_splits=4, seed=0)


def test_carves_test_from_train_next_to_a_given_validation_file(tmp_path: Path) -> None:
    (tmp_path / "train.tsv").write_text("".join(f"t{i}\t{i % 2}\n" for i in range(40)))
    (tmp_path / "dev.tsv").write_text("d0\t0\nd1\t1\n")
    opts = TextLabelTsvOptions(validation="dev.tsv", test_fraction=0.25)
    bundle = load_text_label_tsv(opts, base_dir=tmp_path, seed=5)
    assert (len(bundle.train), len(bundle.validation), len(bundle.test)) == (30, 2, 10)
    assert bundle.test.class_counts().tolist() == [5, 5] and bundle.validation.inputs == ["d0", "d1"]
    assert bundle.provenance.seed == 5 and bundle.test.sources == bundle.train.sources
    assert set(bundle.train.inputs).isdisjoint(bundle.test.inputs)


def test_given_split_and_fraction_conflict() -> None:
    with pytest.raises(DatasetError, match="test split is given as a file"):
        load_csv(dataclasses.replace(BANKING, test_fraction=0.1), base_dir=DATA / "banking77", seed=0)


# --- small formats --------------------------------------------------------------------------


def test_tsv_treats_quotes_as_text_and_jsonl_sorts_integer_labels(tmp_path: Path) -> None:
    (tmp_path / "train.tsv").write_text('text\tlabel\nthe " conan " film\tpos\nbad\tneg\n')
    tsv = load_tsv(TsvOptions(), base_dir=tmp_path, seed=0)
    assert tsv.train.inputs == ['the " conan " film', "bad"] and tsv.label_names == ("neg", "pos")
    rows = [{"t": f"x{i}", "y": y} for i, y in enumerate([10, 2, 2, 10, 1])]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    jsonl = load_jsonl(JsonlOptions(text_column="t", label_column="y"), base_dir=tmp_path, seed=0)
    assert jsonl.label_names == ("1", "2", "10") and jsonl.train.labels.tolist() == [2, 1, 1, 2, 0]


# --- errors ---------------------------------------------------------------------------------


def test_missing_file_names_option_path_and_fix() -> None:
    with pytest.raises(DatasetFileNotFoundError) as info:
        load_csv(dataclasses.replace(BANKING, train="trian.csv"), base_dir=DATA / "banking77", seed=0)
    err = info.value
    assert isinstance(err, FileNotFoundError) and isinstance(err, DatasetError)
    assert err.key == "train" and err.path == str(DATA / "banking77" / "trian.csv")
    message = str(err)
    assert "option 'train'" in message and err.path in message and "Did you mean: 'train.csv'" in message
    assert "Fix the path" in message


def test_bad_column_suggests_header_name() -> None:
    with pytest.raises(DatasetError) as info:
        load_csv(dataclasses.replace(BANKING, label_column="categroy"), base_dir=DATA / "banking77", seed=0)
    message = str(info.value)
    assert "train.csv:1" in message and "'categroy'" in message and "Did you mean: 'category'" in message
    assert "label_column" in message


@pytest.mark.parametrize(
    "content, loader, expected",
    [
        ("text,label\na,x\nb,y,z\n", "csv", r"train.csv:3: expected 2 fields"),
        ("a\tx\nno tab here\n", "text-label-tsv", r"train.tsv:2: expected `text<TAB>label`"),
        ('{"text": "a", "label": "x"}\n{"text": "b"\n', "jsonl", r"train.jsonl:2: not valid JSON"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path: Path, content: str, loader: str, expected: str) -> None:
    fn, opts = {"csv": (load_csv, CsvOptions()), "text-label-tsv": (load_text_label_tsv, TextLabelTsvOptions()),
                "jsonl": (load_jsonl, JsonlOptions())}[loader]
    name = {"csv": "train.csv", "text-label-tsv": "train.tsv", "jsonl": "train.jsonl"}[loader]
    (tmp_path / name).write_text(content)
    with pytest.raises(DatasetError, match=expected):
        fn(opts, base_dir=tmp_path, seed=0)


def test_unknown_test_label_and_bad_encoding(tmp_path: Path) -> None:
    (tmp_path / "train.tsv").write_text("a\tpos\nb\tneg\n")
    (tmp_path / "test.tsv").write_text("c\tpos\nd\tpso\n")
    with pytest.raises(DatasetError, match=r"test.tsv:2: label 'pso' is not among the 2 labels.*Did you mean: 'pos'"):
        load_text_label_tsv(TextLabelTsvOptions(test="test.tsv"), base_dir=tmp_path, seed=0)
    with pytest.raises(DatasetError, match=r"rt-polarity.pos:44: cannot decode byte 0xf3 as utf-8.*latin-1"):
        load_lines_per_label(dataclasses.replace(MR, encoding="utf-8"), base_dir=SENTEVAL, seed=0)


def _idx(code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


@pytest.mark.parametrize(
    "images, expected",
    [
        (b"\x50\x4b\x03\x04" + bytes(100), r"images.idx: not an IDX file"),
        (_idx(0x07, (2, 2, 2), bytes(8)), r"images.idx: unknown IDX dtype code 0x07"),
        (_idx(0x08, (2,), bytes(2)), r"images.idx: the IDX header declares 1 dimension\(s\), expected at least 2"),
        (_idx(0x08, (2, 28, 28), bytes(100)), r"images.idx: the IDX header declares shape \(2, 28, 28\).*truncated"),
        (gzip.compress(_idx(0x08, (2, 2, 2), bytes(8)))[:-6], r"images.idx: corrupt gzip"),
        (_idx(0x08, (3, 2, 2), bytes(12)), r"holds 3 images but .*labels.idx holds 2 labels"),
    ],
)
def test_corrupted_idx_is_named(tmp_path: Path, images: bytes, expected: str) -> None:
    (tmp_path / "images.idx").write_bytes(images)
    (tmp_path / "labels.idx").write_bytes(_idx(0x08, (2,), bytes([1, 0])))
    with pytest.raises(DatasetError, match=expected):
        load_idx(IdxOptions(train_images="images.idx", train_labels="labels.idx"), base_dir=tmp_path, seed=0)


def test_raw_idx_and_label_names_file(tmp_path: Path) -> None:
    (tmp_path / "images.idx").write_bytes(_idx(0x08, (2, 2, 2), bytes(range(8))))
    (tmp_path / "labels.idx").write_bytes(_idx(0x08, (2,), bytes([1, 0])))
    (tmp_path / "names.json").write_text('["zero", "one"]')
    opts = IdxOptions(train_images="images.idx", train_labels="labels.idx", label_names="names.json")
    bundle = load_idx(opts, base_dir=tmp_path, seed=0)
    assert bundle.label_names == ("zero", "one") and bundle.train.inputs[1].tolist() == [[4, 5], [6, 7]]


def test_options_validate_themselves() -> None:
    with pytest.raises(OptionsError, match="Did you mean: 'digits'"):
        SklearnOptions(name="digit")
    with pytest.raises(OptionsError, match="sum below 1"):
        CsvOptions(validation_fraction=0.5, test_fraction=0.5)
    with pytest.raises(OptionsError, match="unknown text encoding"):
        CsvOptions(encoding="latin-9000")
    with pytest.raises(OptionsError, match="not both"):
        LinesPerLabelOptions(files=("MR/rt-polarity.pos",), directory="MR")
    with pytest.raises(OptionsError, match="needs `files`.*or `directory`"):
        load_lines_per_label(LinesPerLabelOptions(), base_dir=SENTEVAL, seed=0)
    with pytest.raises(OptionsError, match="labels .* repeat"):
        LinesPerLabelOptions(files=("a/x.pos", "b/y.pos"))
    with pytest.raises(TypeError, match="expected CsvOptions"):
        load_csv({"train": "train.csv"}, base_dir=DATA, seed=0)  # type: ignore[arg-type]


# --- plugin ---------------------------------------------------------------------------------


def test_plugin_registers_every_loader_with_documented_options() -> None:
    import pluggy

    from zoo import hookspecs
    from zoo.default_plugins import datasets as plugin

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(plugin)
    got: dict[str, tuple[object, type]] = {}

    def register(name, obj, *, summary="", options=None):
        assert summary and name not in got
        got[name] = (obj, options)

    pm.hook.register_datasets(register=register)
    assert set(got) == {"csv", "tsv", "jsonl", "text-label-tsv", "lines-per-label", "sklearn", "idx",
                        "image-folder", "cifar", "npz"}
    for name, (obj, options) in got.items():
        assert callable(obj)
        for f in dataclasses.fields(options):
            assert f.metadata["help"] and f.default is not dataclasses.MISSING, (name, f.name)
    bundle = got["sklearn"][0](got["sklearn"][1](name="iris"), base_dir=DATA, seed=0)
    assert isinstance(bundle, DatasetBundle) and len(bundle.train) == 150


def test_importing_the_plugin_is_cheap() -> None:
    code = "import sys, zoo.default_plugins.datasets; print(sorted({'numpy', 'sklearn', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_split_may_be_unlabeled() -> None:
    from zoo.data import Split

    rows = np.arange(12, dtype=np.float32).reshape(6, 2)
    split = Split("unlabeled", rows, None, ("a", "b"), "vector", (), "f" * 64)
    assert not split.labeled and len(split) == 6
    sub = split.subset([4, 1])
    assert sub.labels is None and sub.inputs.tolist() == [[8.0, 9.0], [2.0, 3.0]]
    assert Split("x", rows, np.zeros(6, dtype=np.int64), ("a",), "vector", (), "f" * 64).labeled
