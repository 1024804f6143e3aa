"""transferzoo DDP benchmark: fine-tuning all-MiniLM-L6-v2 on Banking77 in 1 process and in 2.

The same recipe (the last two encoder layers and a linear head, ``first-k`` with k = 4) runs as
``zoo run RECIPE`` and as ``zoo run RECIPE --nproc 2`` (torchrun, DistributedDataParallel over
gloo on CPU, each process half of every batch). Reported: wall time of the whole command (start-up
included), the training time from the record (every process first runs the frozen layers once
over all training texts, the "frozen prefix"; then the optimization steps), and the test and
validation accuracy. Dropout in the trained layers draws different random numbers in each
process, so fine-tuned weights are not bit-equal to one process's (the equivalence test uses a
model without dropout). With one
thread per process, two processes use two cores where one uses one; on a machine whose cores
are busy with other work the speed-up shrinks accordingly.

Usage::

    .venv/bin/python bench/bench_ddp.py --quick     # 480 sentences, 1 epoch (a few minutes on 2 cores)
    .venv/bin/python bench/bench_ddp.py             # 4000 sentences, 2 epochs
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import BASE  # noqa: E402
from bench_transfer import DEFAULT_DATA, cpu_name, minilm_dir, seed_environment  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

RECIPE = BASE + """
[training]
epochs = {epochs}
batch_size = 32
lr = 0.02
backbone_lr = 0.0001
layer_lr_decay = 0.8
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="480 training sentences, one epoch")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Banking77 folder (train.csv, test.csv)")
    ap.add_argument("--nproc", type=int, default=2, help="processes of the data-parallel run")
    ap.add_argument("--workdir", type=Path, default=None, help="keep runs and caches here")
    args = ap.parse_args(argv)

    sizes = (480, 160, 320, 1) if args.quick else (4000, 1000, 3080, 2)
    tmp = None if args.workdir else tempfile.TemporaryDirectory(prefix="zoo-bench-ddp-")
    workdir = args.workdir or Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    seed_environment(workdir / "env", minilm_dir())  # sets the (offline) environment the children inherit
    recipe = workdir / "bench-ddp.toml"
    recipe.write_text(RECIPE.format(name="bench-ddp", threads=1, data=args.data.resolve(), max_train=sizes[0], max_validation=sizes[1],
                                    max_test=sizes[2], epochs=sizes[3]), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    rows = []
    for nproc in (1, args.nproc):
        out = workdir / f"out-{nproc}"
        cmd = [sys.executable, "-m", "zoo", "run", str(recipe), "-o", str(out), "--quiet", "--nproc", str(nproc)]
        print(" ".join(cmd), file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if res.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
        run = next(p for p in out.iterdir() if (p / "record.json").is_file())
        rec = json.loads((run / "record.json").read_text())
        head = rec["metrics"]["head"]
        rows.append((nproc, wall, rec["timings"]["train"], rec["training"]["prefix_seconds"], head["accuracy"],
                     head.get("val_accuracy"), rec["distributed"]["world_size"]))
    import torch

    print(f"\n{_dt.date.today()}, {cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"torch {torch.__version__}; train {sizes[0]}, validation {sizes[1]}, test {sizes[2]}, {sizes[3]} epoch(s), "
          f"batch 32 (global), 1 thread per process\n")
    print("| processes | wall s (command) | train s (record) | of which frozen prefix s | steps s | speed-up (steps) "
          "| test acc | val acc |")
    print("|---|---|---|---|---|---|---|---|")
    base = rows[0][2] - rows[0][3]
    for nproc, wall, train, prefix, acc, val, world in rows:
        print(f"| {nproc} (world size {world}) | {wall:.1f} | {train:.1f} | {prefix:.1f} | {train - prefix:.1f} | "
              f"{base / (train - prefix):.2f}x | {acc:.4f} | {val:.4f} |")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
