"""transferzoo encode benchmark: all-MiniLM-L6-v2 on Banking77, zoo beside sentence-transformers.

Prints one Markdown table: sentences/s of each encoder on the same real sentences (the 3,080
Banking77 test sentences), in one process, after a warm-up, the median of ``--rounds`` rounds in
which every encoder runs once in rotating order (``zoo.compress.measure_throughput_interleaved``,
the function behind the trade-off table's throughput), with the ratio to sentence-transformers,
the lowest cosine of each embedding to sentence-transformers' and, unless ``--no-probe``, the
Banking77 probe accuracy (a logistic probe fitted on zoo float32 features of the 10,003 train
sentences scores every encoder's test features). ``--ideas`` adds rows that show what each
change to the encoder buys. Usage::

    .venv/bin/python bench/bench_encode.py                  # about 2-3 minutes on a quiet 2-core VM
    .venv/bin/python bench/bench_encode.py --ideas --no-probe --limit 1000
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime as _dt
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_transfer import DEFAULT_DATA, cpu_name, minilm_dir  # noqa: E402

INT8_SKIP = ("*.layer.0.output.dense", "*.layer.1.output.dense")  # as examples/banking77-int8.toml


def read_csv(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def load_encoders() -> dict[str, Any]:
    """The sentence-transformers model, zoo's float32 encoder and its dynamic int8 copy."""
    from sentence_transformers import SentenceTransformer

    from zoo.compress.quantize import dynamic_int8, quiet_ao
    from zoo.models.text import build_text_encoder

    model_dir = minilm_dir()
    st = SentenceTransformer(str(model_dir), device="cpu")
    zoo = build_text_encoder(model_dir)
    int8 = copy.deepcopy(zoo)
    with quiet_ao():
        dynamic_int8(int8.model, skip=INT8_SKIP)
    return {"st": st, "zoo": zoo, "int8": int8}


def runners(models: dict[str, Any], batch_size: int, ideas: bool) -> dict[str, tuple[str, Callable[[list[str]], Any]]]:
    st, zoo, int8 = models["st"], models["zoo"], models["int8"]

    def st_run(texts: list[str]) -> Any:
        return st.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)

    def zoo_run(encoder: Any, bs: int = batch_size, packed: bool = True) -> Callable[[list[str]], Any]:
        def run(texts: list[str]) -> Any:
            encoder.packed = packed
            try:
                return encoder.encode(texts, batch_size=bs)
            finally:
                encoder.packed = True
        return run

    out = {
        "st": (f"sentence-transformers fp32, batch {batch_size}", st_run),
        "zoo": (f"zoo fp32 (packed, token-sorted), batch {batch_size}", zoo_run(zoo)),
        "int8": (f"zoo dynamic int8 (layers 0-1 FFN-out fp32), batch {batch_size}", zoo_run(int8)),
    }
    if ideas:
        out["padded"] = (f"  idea off: padded char-sorted batches (zoo before), batch {batch_size}",
                         zoo_run(zoo, packed=False))
        for bs in (64, 128):
            out[f"bs{bs}"] = (f"  idea: packed, batch {bs}", zoo_run(zoo, bs))
    return out


def explain(models: dict[str, Any], validation: list[str], test: list[str], threads: int) -> None:
    """Why the runner's trade-off table (before) gave int8 ~3x while encode side by side gives less:
    the same fp32/int8 pair timed under each protocol, interleaved."""
    from zoo.compress.measure import LatencyConfig, measure_latency_interleaved, measure_throughput_interleaved

    fp, q = models["zoo"], models["int8"]
    batch = fp.tokenize(validation[:32])
    real = int(batch["attention_mask"].sum())
    one = [(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])]
    a = measure_latency_interleaved({"fp32": fp, "int8": q}, one, LatencyConfig(repeats=10, warmup=2, threads=threads))
    order = sorted(range(len(test)), key=lambda i: -len(test[i]))
    batches = []
    for i in range(0, len(test), 32):
        t = fp.tokenize([test[j] for j in order[i : i + 32]])
        batches.append((t["input_ids"], t["attention_mask"], t["token_type_ids"]))
    c = measure_latency_interleaved({"fp32": fp, "int8": q}, batches, LatencyConfig(repeats=3, warmup=1, threads=threads))

    def enc(m: Any, packed: bool) -> Callable[[list[str]], Any]:
        def run(texts: list[str]) -> Any:
            m.packed = packed
            try:
                return m.encode(texts, batch_size=32)
            finally:
                m.packed = True
        return run

    b = measure_throughput_interleaved({"fp32 padded": enc(fp, False), "int8 padded": enc(q, False),
                                        "fp32 packed": enc(fp, True), "int8 packed": enc(q, True)}, test,
                                       LatencyConfig(repeats=3, warmup=1, threads=threads), warmup_items=128)
    print("\n| protocol | int8 / fp32 |\n|---|---|")
    print(f"| runner before: model only, 1 pre-tokenized batch of 32 validation sentences, padded to "
          f"{batch['input_ids'].shape[1]} tokens ({real / batch['input_ids'].numel():.0%} real), 10 repeats | "
          f"{a['fp32'].median_ms / a['int8'].median_ms:.2f}x |")
    print(f"| model only, all {len(test)} test sentences pre-tokenized in length-sorted batches of 32 | "
          f"{c['fp32'].median_ms / c['int8'].median_ms:.2f}x |")
    print(f"| encode() end to end (tokenize, sort, model, pool), padded batches | "
          f"{b['int8 padded'].throughput / b['fp32 padded'].throughput:.2f}x |")
    print(f"| encode() end to end, packed batches (zoo now) | "
          f"{b['int8 packed'].throughput / b['fp32 packed'].throughput:.2f}x |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Banking77 folder (train.csv, test.csv)")
    ap.add_argument("--limit", type=int, default=0, help="encode only the first N test sentences (0: all 3080)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds (every encoder once per round)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads, the same for every encoder")
    ap.add_argument("--ideas", action="store_true", help="add rows measuring each encoder change on its own")
    ap.add_argument("--no-probe", action="store_true", help="skip the Banking77 probe accuracy column")
    ap.add_argument("--explain", action="store_true",
                    help="only time zoo fp32 against int8 under the runner's old protocol and end to end")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from zoo.compress.measure import LatencyConfig, measure_throughput_interleaved

    torch.set_num_interop_threads(1)
    log = lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    load_start = os.getloadavg()
    test, test_labels = read_csv(args.data / "test.csv")
    if args.limit:
        test, test_labels = test[: args.limit], test_labels[: args.limit]
    models = load_encoders()
    if args.explain:
        train, _ = read_csv(args.data / "train.csv")
        explain(models, train[-1000:], test, args.threads)
        return 0
    runs = runners(models, args.batch_size, args.ideas)
    outputs: dict[str, Any] = {}

    def keeping(name: str, fn: Callable[[list[str]], Any]) -> Callable[[list[str]], Any]:
        def run(texts: list[str]) -> Any:
            outputs[name] = fn(texts)
        return run

    log(f"{len(runs)} encoders, warm-up on 256 sentences, then {args.rounds} rounds of {len(test)} sentences")
    t0 = time.perf_counter()
    stats = measure_throughput_interleaved({k: keeping(k, fn) for k, (_, fn) in runs.items()}, test,
                                           LatencyConfig(repeats=args.rounds, warmup=1, threads=args.threads),
                                           warmup_items=256)
    bench_s = time.perf_counter() - t0
    ref = outputs["st"]
    accuracy: dict[str, float] = {}
    if not args.no_probe:
        from zoo.probes.logistic import LogisticProbe

        train, train_labels = read_csv(args.data / "train.csv")
        log(f"probe: encoding {len(train)} train sentences with zoo fp32, fitting a logistic probe (C=1)")
        with torch.inference_mode():
            torch.set_num_threads(args.threads)
            xtr = models["zoo"].encode(train, batch_size=args.batch_size)
        probe = LogisticProbe(C=1.0).fit(xtr, np.asarray(train_labels))
        accuracy = {k: float((probe.predict(v) == np.asarray(test_labels)).mean()) for k, v in outputs.items()}

    def cosine(a: Any, b: Any) -> float:
        return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())

    st_rate = stats["st"].throughput
    import sentence_transformers

    print(f"\ntransferzoo encode bench: all-MiniLM-L6-v2, {len(test)} Banking77 test sentences "
          f"({_dt.date.today().isoformat()})")
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, load average {load_start[0]:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end; torch {torch.__version__}, sentence-transformers "
          f"{sentence_transformers.__version__}; torch threads {args.threads}; {args.rounds} interleaved rounds "
          f"({bench_s:.0f} s)\n")
    head = ["encoder", "sentences/s (median [IQR])", "x s-t fp32", "min cosine to s-t"]
    if accuracy:
        head.append("Banking77 probe accuracy")
    rows = [head]
    for key, (label, _) in runs.items():
        s = stats[key]
        rate = f"{s.throughput:,.0f} [{s.items / s.q3_s:,.0f}-{s.items / s.q1_s:,.0f}]"
        row = [label, rate, f"{s.throughput / st_rate:.2f}x", "-" if key == "st" else f"{cosine(outputs[key], ref):.6f}"]
        if accuracy:
            delta = "" if key == "zoo" else f" ({100 * (accuracy[key] - accuracy['zoo']):+.2f} pts)"
            row.append(f"{100 * accuracy[key]:.2f}{delta}")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    print("\nAll encoders run in this process on the same sentences; rounds interleave them, so load from other "
          "processes hits all alike. The probe is fitted once on zoo fp32 train features; each row's test "
          "features are scored by it.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
