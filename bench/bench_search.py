"""transferzoo search benchmark: Optuna (TPE + median pruning) against a grid, Banking77 fine-tune.

Both searches tune the same three things of the all-MiniLM-L6-v2 fine-tune of
``examples/banking77-finetune.toml``: the backbone learning rate, the number of epochs, and how
many encoder layers train (``freezing.options.k`` layers frozen from the input). The grid tries
every combination of a few values; Optuna gets the same number of trials over the ranges those
values span and prunes trials whose validation accuracy after an epoch falls below the median.
The cost is counted in **trial-epochs** (epochs actually trained, summed over trials); the table
shows the best validation accuracy each search had reached after spending a given number of
trial-epochs, and the totals. Test accuracy is never used to choose.

Runs offline, like ``bench_transfer.py`` (Hub cache and ``ZOO_HOME`` in a temporary directory).
Usage::

    .venv/bin/python bench/bench_search.py --quick      # 8 + 8 trials on 320 sentences, ~10 min on 2 cores
    .venv/bin/python bench/bench_search.py              # 18 + 18 trials on 3000 sentences
"""

from __future__ import annotations

import argparse
import datetime as _dt
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transfer import DEFAULT_DATA, cpu_name, minilm_dir, seed_environment  # noqa: E402

BASE = """\
name = "{name}"
seed = 0
device = "cpu"
output_dir = "runs"
threads = {threads}

[backbone]
name = "all-minilm-l6-v2"
batch_size = 128
max_seq_length = 32

[data]
loader = "csv"
max_train = {max_train}
max_validation = {max_validation}
max_test = {max_test}

[data.options]
train = "{data}/train.csv"
test = "{data}/test.csv"
label_column = "category"
label_names = "{data}/categories.json"
validation_fraction = 0.1

[head]
name = "linear"

[freezing]
name = "first-k"

[freezing.options]
k = 4
"""
"""The fine-tune of examples/banking77-finetune.toml on subsets (bench_ddp.py uses it too)."""

RECIPE = BASE + """
[training]
epochs = 2
batch_size = 32
lr = 0.02
backbone_lr = 0.0001
layer_lr_decay = 0.8

[sweep]
method = "optuna"
trials = {trials}
seed = 0
pruner = "median"
startup_trials = 3

[sweep.params]
"training.backbone_lr" = {{ low = {lr_low}, high = {lr_high}, log = true }}
"training.epochs" = {{ low = 1, high = {max_epochs} }}
"freezing.options.k" = {{ low = {k_low}, high = 5 }}
"""

SIZES = {
    "quick": {"max_train": 320, "max_validation": 160, "max_test": 80, "lrs": [5e-5, 3e-4], "epochs": [1, 2],
              "ks": [4, 5]},
    "full": {"max_train": 3000, "max_validation": 1000, "max_test": 1000, "lrs": [3e-5, 1e-4, 3e-4],
             "epochs": [1, 2, 3], "ks": [3, 5]},
}


def best_curve(trials: list[dict]) -> list[tuple[int, float]]:
    """(cumulative trial-epochs, best validation accuracy so far) after each trial, in trial order."""
    spent, best, out = 0, float("-inf"), []
    for t in trials:
        spent += t["epochs_run"]
        if t["state"] == "COMPLETE" and t["value"] is not None:
            best = max(best, t["value"])
        out.append((spent, best))
    return out


def at(curve: list[tuple[int, float]], budget: int) -> str:
    reached = [b for spent, b in curve if spent <= budget and b > float("-inf")]
    return f"{max(reached):.4f}" if reached else "-"


def run_grid(recipe, size: dict, workdir: Path) -> tuple[list[dict], float]:
    from zoo.search.trial import run_trial

    trials, t0 = [], time.perf_counter()
    for i, (lr, epochs, k) in enumerate(itertools.product(size["lrs"], size["epochs"], size["ks"])):
        params = {"training.backbone_lr": lr, "training.epochs": epochs, "freezing.options.k": k}
        print(f"grid trial {i}: {params}", file=sys.stderr, flush=True)
        run = run_trial(recipe, params, output_dir=workdir / "grid")
        trials.append({"number": i, "state": "COMPLETE", "value": run.value, "params": params,
                       "epochs_run": len(run.record["training"]["history"]),
                       "test_accuracy": run.record["metrics"]["head"]["accuracy"]})
    return trials, time.perf_counter() - t0


def run_optuna(recipe, workdir: Path) -> tuple[list[dict], float]:
    from zoo.search.optuna_sweep import run_optuna_sweep

    t0 = time.perf_counter()
    result = run_optuna_sweep(recipe, sweep_dir=workdir / "optuna", progress=False, verbose=True)
    trials = []
    for t in result.trials:
        test = None
        if t["state"] == "COMPLETE":
            test = json.loads((Path(t["run_dir"]) / "record.json").read_text())["metrics"]["head"]["accuracy"]
        trials.append({**t, "epochs_run": len(t["intermediate_values"]), "test_accuracy": test})
    return trials, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small subsets and 8 trials each (minutes, not hours)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Banking77 folder (train.csv, test.csv)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--workdir", type=Path, default=None, help="keep runs and caches here")
    ap.add_argument("--json", type=Path, default=None, help="also write the measurements to this file")
    args = ap.parse_args(argv)

    size = SIZES["quick" if args.quick else "full"]
    tmp = None if args.workdir else tempfile.TemporaryDirectory(prefix="zoo-bench-search-")
    workdir = args.workdir or Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    seed_environment(workdir / "env", minilm_dir())
    from zoo.runner import load_recipe

    n_grid = len(size["lrs"]) * len(size["epochs"]) * len(size["ks"])
    path = workdir / "bench-search.toml"
    path.write_text(RECIPE.format(name="bench-search", threads=args.threads, data=args.data.resolve(), max_train=size["max_train"],
                                  max_validation=size["max_validation"], max_test=size["max_test"], trials=n_grid,
                                  lr_low=min(size["lrs"]), lr_high=max(size["lrs"]), max_epochs=max(size["epochs"]),
                                  k_low=min(size["ks"])), encoding="utf-8")
    recipe = load_recipe(path)
    grid, grid_s = run_grid(recipe, size, workdir)
    optuna_trials, optuna_s = run_optuna(recipe, workdir)

    curves = {"grid": best_curve(grid), "optuna": best_curve(optuna_trials)}
    total = max(curves["grid"][-1][0], curves["optuna"][-1][0])
    budgets = sorted({max(1, round(total * f)) for f in (0.25, 0.5, 0.75, 1.0)})
    import optuna
    import torch

    print(f"\n{_dt.date.today()}, {cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"torch {torch.__version__}, optuna {optuna.__version__}; mode {'quick' if args.quick else 'full'}: "
          f"train {size['max_train']}, validation {size['max_validation']}, {n_grid} trials each\n")
    print("| search | trials (complete / pruned) | trial-epochs | wall s | "
          + " | ".join(f"best val acc @ {b} trial-epochs" for b in budgets) + " | best val acc | its test acc |")
    print("|---|---|---|---|" + "---|" * len(budgets) + "---|---|")
    out = {}
    for name, trials, secs in (("grid", grid, grid_s), ("optuna + median pruning", optuna_trials, optuna_s)):
        curve = curves["grid" if name == "grid" else "optuna"]
        done = [t for t in trials if t["state"] == "COMPLETE"]
        best = max(done, key=lambda t: t["value"])
        pruned = sum(t["state"] == "PRUNED" for t in trials)
        print(f"| {name} | {len(done)} / {pruned} | {curve[-1][0]} | {secs:.0f} | "
              + " | ".join(at(curve, b) for b in budgets) + f" | {best['value']:.4f} | {best['test_accuracy']:.4f} |")
        out[name] = {"trials": trials, "curve": curve, "seconds": secs, "best": best}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
