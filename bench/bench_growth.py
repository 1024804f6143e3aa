"""How encoding cost grows: time and peak memory vs corpus size and vs sequence length, zoo beside
sentence-transformers (all-MiniLM-L6-v2), and what a feature-cache hit costs in memory.

Every measurement runs in a fresh child process (so its peak resident memory, ``ru_maxrss``, is
its own): the child loads one encoder, warms it up on 64 sentences, resets the kernel's peak
(``/proc/self/clear_refs``), records its resident memory, encodes the corpus once and reports the
time and the peak (``VmHWM``) above that baseline.

Corpora are real sentences only: Banking77 (train, test), SST-2 (train, dev, test), MR and CR from
``../shared/data``, 97,729 sentences, shuffled together with a fixed seed; a corpus of N sentences
is the first N (a size above the pool repeats it). For sequence length L, consecutive sentences of
the pool are joined until a text has at least L tokens, and both encoders truncate at L, so every
text is exactly L tokens long.

The cache rows write the largest corpus' zoo features into a ``FeatureCache`` and read them back
in a fresh process: with the hit memory-mapped, resident memory grows by the pages the reader
touches, instead of the file's bytes plus the decoded array.

Usage::

    .venv/bin/python bench/bench_growth.py --quick          # 1k-3k sentences, L 16-64: a few minutes
    .venv/bin/python bench/bench_growth.py                  # 1k-100k sentences, L 16-256 (an hour+)
    .venv/bin/python bench/bench_growth.py --plot bench/growth.png
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = REPO.parent / "shared" / "data"
SEED = 0


def sentence_pool(data: Path = DATA) -> list[str]:
    """Every real sentence of Banking77, SST-2, MR and CR, shuffled with a fixed seed."""
    pool: list[str] = []
    for name in ("train.csv", "test.csv"):
        with (data / "banking77" / name).open(newline="", encoding="utf-8") as fh:
            pool += [row["text"] for row in csv.DictReader(fh)]
    for name in ("sentiment-train", "sentiment-dev", "sentiment-test"):
        lines = (data / "senteval" / "SST2" / name).read_text(encoding="utf-8").splitlines()
        pool += [line.rsplit("\t", 1)[0].strip() for line in lines if line.strip()]
    for path in ("MR/rt-polarity.pos", "MR/rt-polarity.neg", "CR/custrev.pos", "CR/custrev.neg"):
        text = (data / "senteval" / path).read_bytes().decode("latin-1")
        pool += [line.strip() for line in text.split("\n") if line.strip()]
    random.Random(SEED).shuffle(pool)
    return pool


def corpus(n: int, pool: list[str]) -> list[str]:
    return [pool[i % len(pool)] for i in range(n)]


def long_texts(length: int, n: int, pool: list[str], tokenizer: Any) -> list[str]:
    """``n`` texts of at least ``length`` tokens, each joining consecutive real sentences."""
    out, i = [], 0
    while len(out) < n:
        parts: list[str] = []
        while len(tokenizer.encode(" ".join(parts)).ids) < length:
            parts.append(pool[i % len(pool)])
            i += 1
        out.append(" ".join(parts))
    return out


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def reset_peak() -> None:
    """Start a new peak: Linux resets VmHWM to the current RSS on writing 5 to clear_refs."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def peak_mb() -> float:
    """Peak resident memory since the last :func:`reset_peak` (VmHWM), else since start (ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- child: one measurement ---------------------------------------------------------------


def child(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(spec["threads"])
    if spec["kind"] == "cache-read":
        return _cache_read(spec)
    sys.path.insert(0, str(HERE))
    from bench_transfer import minilm_dir

    pool = sentence_pool()
    length = spec.get("length")
    if spec["encoder"] == "zoo":
        from zoo.models.text import build_text_encoder

        enc = build_text_encoder(minilm_dir(), max_seq_length=length or None)
        run = lambda texts: enc.encode(texts, batch_size=spec["batch_size"])  # noqa: E731
    else:
        from sentence_transformers import SentenceTransformer

        enc = SentenceTransformer(str(minilm_dir()), device="cpu")
        if length:
            enc.max_seq_length = length
        run = lambda texts: enc.encode(texts, batch_size=spec["batch_size"], show_progress_bar=False)  # noqa: E731
    if length:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        texts = long_texts(length, spec["n"], pool, tok)
    else:
        texts = corpus(spec["n"], pool)
    run(texts[:64])
    reset_peak()
    base = rss_mb()
    t0 = time.perf_counter()
    out = run(texts)
    seconds = time.perf_counter() - t0
    result = {"seconds": seconds, "rate": len(texts) / seconds, "peak_mb": peak_mb() - base,
              "out_mb": out.nbytes / 2**20}
    if spec.get("cache_dir"):
        from zoo.runner.features import FeatureCache

        class Done:  # the features just computed, stored through the cache's real write path
            def encode(self, items: Any, batch_size: int) -> Any:
                return out

        FeatureCache(spec["cache_dir"]).get_or_compute(Done(), texts, weights_sha256="bench", dataset_fingerprint="pool",
                                                         split=str(len(texts)), preprocessing={}, batch_size=32)
    return result


def _cache_read(spec: dict[str, Any]) -> dict[str, Any]:
    import io

    import numpy as np

    from zoo.runner.features import FeatureCache

    cache = FeatureCache(spec["cache_dir"])
    (entry,) = cache.entries()
    path = next(Path(spec["cache_dir"]).rglob(entry["key"] + ".npy"))
    size = path.stat().st_size / 2**20
    reset_peak()
    base = rss_mb()
    if spec["mode"] == "copy":  # what a hit did before: the file's bytes, then the decoded array
        data = path.read_bytes()
        x = np.load(io.BytesIO(data), allow_pickle=False)
    else:
        x = cache._read(entry["key"])[0]
    held = rss_mb() - base
    total = float(np.asarray(x).sum(0, dtype=np.float64)[0])  # touch every row, as a probe's fit does
    return {"file_mb": size, "held_mb": held, "peak_mb": peak_mb() - base, "checksum": total}


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": str(spec["threads"]), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-W", "ignore", __file__, "--child", json.dumps(spec)], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"child {spec} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- parent: the sweep and the tables -----------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and lengths (minutes, not an hour)")
    ap.add_argument("--sizes", type=int, nargs="*", help="corpus sizes (default 1k 3k 10k 30k 100k; quick 1k 3k)")
    ap.add_argument("--lengths", type=int, nargs="*", help="sequence lengths (default 16..256; quick 16 32 64)")
    ap.add_argument("--length-texts", type=int, default=0, help="texts per length (default 512; quick 128)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--plot", type=Path, default=None, help="write a PNG of the two sweeps here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    sizes = args.sizes or ([1000, 3000] if args.quick else [1000, 3000, 10000, 30000, 100000])
    lengths = args.lengths or ([16, 32, 64] if args.quick else [16, 32, 64, 128, 256])
    n_len = args.length_texts or (128 if args.quick else 512)
    log = lambda msg: print(f"[growth] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    common = {"threads": args.threads, "batch_size": args.batch_size}
    load = os.getloadavg()[0]
    t_start = time.perf_counter()
    size_rows, len_rows = [], []
    with tempfile.TemporaryDirectory(prefix="zoo-growth-") as cache_dir:
        for n in sizes:
            for name in ("st", "zoo"):  # alternate, so that load drifts hit both alike
                log(f"{name}: {n} sentences")
                spec = {**common, "kind": "encode", "encoder": name, "n": n,
                        **({"cache_dir": cache_dir} if name == "zoo" and n == sizes[-1] else {})}
                size_rows.append({"n": n, "encoder": name, **run_child(spec)})
        for length in lengths:
            for name in ("st", "zoo"):
                log(f"{name}: {n_len} texts of {length} tokens")
                len_rows.append({"length": length, "encoder": name,
                                 **run_child({**common, "kind": "encode", "encoder": name, "n": n_len,
                                              "length": length})})
        log("feature cache: reading the largest corpus' features back")
        cache_rows = [run_child({**common, "kind": "cache-read", "cache_dir": cache_dir, "mode": m})
                      for m in ("copy", "mmap")]
    elapsed = time.perf_counter() - t_start
    print(f"\nencoding growth, all-MiniLM-L6-v2, torch threads {args.threads}, batch {args.batch_size}; "
          f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end; {elapsed:.0f} s\n")
    print(_table(size_rows, "sentences", "n"))
    print()
    print(_table(len_rows, f"tokens per text ({n_len} texts)", "length"))
    print(f"\nfeature cache hit on {sizes[-1]} x 384 float32 features ({cache_rows[0]['file_mb']:.1f} MB file):")
    print("| read | memory held after the read (MB) | peak after touching every row (MB) |\n|---|---|---|")
    for label, r in zip(("file bytes + np.load (before)", "memory-mapped (now)"), cache_rows):
        print(f"| {label} | {r['held_mb']:.1f} | {r['peak_mb']:.1f} |")
    if args.plot:
        _plot(size_rows, len_rows, args.plot)
        print(f"\nplot: {args.plot}")
    return 0


def _table(rows: list[dict[str, Any]], what: str, key: str) -> str:
    lines = [f"| {what} | s-t s | zoo s | s-t sent/s | zoo sent/s | zoo / s-t | s-t peak MB | zoo peak MB |",
             "|---|---|---|---|---|---|---|---|"]
    for value in sorted({r[key] for r in rows}):
        st = next(r for r in rows if r[key] == value and r["encoder"] == "st")
        zo = next(r for r in rows if r[key] == value and r["encoder"] == "zoo")
        lines.append(f"| {value:,} | {st['seconds']:.1f} | {zo['seconds']:.1f} | {st['rate']:.0f} | {zo['rate']:.0f} | "
                     f"{zo['rate'] / st['rate']:.2f}x | {st['peak_mb']:.0f} | {zo['peak_mb']:.0f} |")
    return "\n".join(lines)


def _plot(size_rows: list[dict[str, Any]], len_rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name, label in (("st", "sentence-transformers"), ("zoo", "zoo")):
        s = [r for r in size_rows if r["encoder"] == name]
        ln = [r for r in len_rows if r["encoder"] == name]
        axes[0].loglog([r["n"] for r in s], [r["seconds"] for r in s], "o-", label=label)
        axes[1].loglog([r["n"] for r in s], [max(r["peak_mb"], 0.1) for r in s], "o-", label=label)
        axes[2].loglog([r["length"] for r in ln], [r["rate"] * r["length"] for r in ln], "o-", label=label)
    axes[0].set(xlabel="sentences", ylabel="encode time (s)", title="time vs corpus size")
    axes[1].set(xlabel="sentences", ylabel="peak memory above the loaded model (MB)", title="memory vs corpus size")
    axes[2].set(xlabel="tokens per text", ylabel="tokens/s", title="throughput vs sequence length")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
