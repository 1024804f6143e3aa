"""Image dataset loaders on real images (MNIST t10k, scikit-learn digits, scikit-image photographs)."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from image_support import skimage_image

from zoo.data.idx import read_idx
from zoo.data.images import (
    CifarOptions,
    ImageFolderOptions,
    NpzOptions,
    load_cifar,
    load_image_folder,
    load_npz,
    read_cifar_batch,
)
from zoo.errors import DatasetError
from zoo.models.image import ImageInput, images_to_batch


@pytest.fixture(scope="module")
def mnist(shared_data):
    x = read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")[:200]
    y = read_idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz")[:200].astype(np.int64)
    return x, y


def _write_folder(root, x, y):
    from PIL import Image

    for i, (img, label) in enumerate(zip(x, y)):
        d = root / f"digit{label}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(d / f"{i:03d}.png")


def test_image_folder_loads_paths_lazily(tmp_path, mnist):
    x, y = mnist
    _write_folder(tmp_path / "train", x, y)
    _write_folder(tmp_path / "test", x[:10], y[:10])
    (tmp_path / "train" / "digit0" / "notes.txt").write_text("not an image")
    bundle = load_image_folder(ImageFolderOptions(test_dir="test"), base_dir=tmp_path, seed=0)
    assert bundle.label_names == tuple(f"digit{i}" for i in range(10))
    train = bundle.train
    assert len(train.inputs) == 200 and all(str(p).endswith(".png") for p in train.inputs)
    by_path = {os.path.basename(p): n for p, n in zip(train.inputs, train.labels)}
    assert by_path["000.png"] == y[0]
    batch = images_to_batch(list(train.inputs[:8]), ImageInput(size=(32, 32), crop_pct=1.0))
    assert batch.shape == (8, 3, 32, 32)
    before = bundle.provenance.fingerprint
    first = tmp_path / "train" / "digit7" / "000.png"
    first.write_bytes(first.read_bytes() + b"\0")
    again = load_image_folder(ImageFolderOptions(test_dir="test"), base_dir=tmp_path, seed=0)
    assert again.provenance.fingerprint != before


def test_image_folder_refuses_an_unknown_test_class(tmp_path, mnist):
    x, y = mnist
    _write_folder(tmp_path / "train", x[:5][y[:5] != 4], y[:5][y[:5] != 4])
    _write_folder(tmp_path / "test", x[y == 4][:1], y[y == 4][:1])
    with pytest.raises(DatasetError, match="digit4"):
        load_image_folder(ImageFolderOptions(test_dir="test"), base_dir=tmp_path, seed=0)


def _cifar_batch(path, x, y):
    rgb = np.repeat(np.pad(x, ((0, 0), (2, 2), (2, 2)))[:, None], 3, axis=1)  # (N, 3, 32, 32)
    with open(path, "wb") as fh:
        pickle.dump({b"batch_label": b"testing", b"labels": [int(v) for v in y],
                     b"data": rgb.reshape(len(x), -1), b"filenames": [b"f%d.png" % i for i in range(len(x))]}, fh)


def test_cifar_batches_load_as_channels_last_uint8(tmp_path, mnist):
    x, y = mnist
    _cifar_batch(tmp_path / "data_batch_1", x[:100], y[:100])
    _cifar_batch(tmp_path / "data_batch_2", x[100:150], y[100:150])
    _cifar_batch(tmp_path / "test_batch", x[150:], y[150:])
    with open(tmp_path / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [b"zero", b"one", b"two", b"three", b"four", b"five", b"six", b"seven",
                                      b"eight", b"nine"], b"num_vis": 3072}, fh)
    opts = CifarOptions(root=str(tmp_path), train_files=("data_batch_1", "data_batch_2"))
    bundle = load_cifar(opts, base_dir=tmp_path, seed=0)
    assert bundle.train.inputs.shape == (150, 32, 32, 3) and bundle.train.inputs.dtype == np.uint8
    assert np.array_equal(bundle.train.inputs[3, 2:30, 2:30, 1], x[3])
    assert bundle.label_names[7] == "seven" and len(bundle.test.labels) == 50


def test_cifar_reader_refuses_a_pickle_that_runs_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "data_batch_1"
    with open(path, "wb") as fh:
        pickle.dump({b"data": Evil(), b"labels": [0]}, fh)
    with pytest.raises(DatasetError, match="posix.system|os.system|not allowed"):
        read_cifar_batch(path)
    assert not marker.exists()


def test_npz_digits_with_scale(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(tmp_path / "train.npz", x=digits.images[:1000], y=digits.target[:1000])
    np.savez(tmp_path / "test.npz", x=digits.images[1000:], y=digits.target[1000:])
    bundle = load_npz(NpzOptions(test="test.npz", scale=16.0), base_dir=tmp_path, seed=0)
    assert bundle.train.inputs.shape == (1000, 8, 8) and float(bundle.train.inputs.max()) == 1.0
    assert images_to_batch(bundle.test.inputs[:4], ImageInput(size=(32, 32), crop_pct=1.0)).shape == (4, 3, 32, 32)
    with pytest.raises(DatasetError, match="scale"):
        load_npz(NpzOptions(), base_dir=tmp_path, seed=0)


def test_npz_refuses_object_arrays(tmp_path):
    np.savez(tmp_path / "train.npz", x=np.array([skimage_image("coffee.png")], dtype=object), y=np.array([0]))
    with pytest.raises(DatasetError, match="object arrays"):
        load_npz(NpzOptions(), base_dir=tmp_path, seed=0)


@pytest.mark.parametrize("shift", ["rotate30", "noise0.3", "invert"])
def test_shifted_mnist_stays_uint8_images_an_image_backbone_takes(shared_data, shift):
    from zoo.data.idx import load_idx
    from zoo.data.options import IdxOptions

    mnist = shared_data / "mnist"
    plain = load_idx(IdxOptions(train_images=str(mnist / "t10k-images-idx3-ubyte.gz"),
                                train_labels=str(mnist / "t10k-labels-idx1-ubyte.gz")), base_dir=mnist, seed=0)
    bundle = load_idx(IdxOptions(train_images=str(mnist / "t10k-images-idx3-ubyte.gz"),
                                 train_labels=str(mnist / "t10k-labels-idx1-ubyte.gz"), shift=shift),
                      base_dir=mnist, seed=0)
    x = np.asarray(bundle.train.inputs[:64])
    assert x.dtype == np.uint8 and x.shape == (64, 28, 28)
    assert not np.array_equal(x, np.asarray(plain.train.inputs[:64]))  # the shift changed the images
    assert bundle.fingerprint != plain.fingerprint
    batch = images_to_batch(list(x), ImageInput(size=(32, 32), mean=(0.5,) * 3, std=(0.5,) * 3, channels=3))
    assert tuple(batch.shape) == (64, 3, 32, 32)


def test_sklearn_digit_images_are_scaled_to_the_unit_range():
    from zoo.data.bundled import load_sklearn
    from zoo.data.options import SklearnOptions

    for shift in (None, "invert"):
        bundle = load_sklearn(SklearnOptions(name="digits", shift=shift), base_dir=".", seed=0)
        x = np.asarray(bundle.train.inputs)
        assert x.dtype == np.float32 and x.shape == (1797, 8, 8) and 0.0 <= x.min() and x.max() == 1.0
        images_to_batch(list(x[:8]), ImageInput(size=(32, 32), mean=(0.5,) * 3, std=(0.5,) * 3, channels=3))
