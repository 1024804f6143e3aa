"""Built-in plugin: the experiment commands ``plan``, ``run``, ``reproduce``, ``runs``.

Nothing here imports torch at module level: the CLI's start-up stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from zoo._text import examples
from zoo.errors import ConfigError
from zoo.hookspecs import hookimpl

__all__ = ["register_commands"]


def _writable_dir(path: Path, *, what: str) -> Path:
    """``path`` as a folder zoo can write run directories into (created if missing), checked before any work.

    Raises:
        ConfigError: it is a file, or it cannot be created or written.
    """
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {path} is a file, not a folder; give a folder for the run directories.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be created ({exc.strerror}); choose another folder.") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {path} is not writable; choose another folder or fix its permissions.")
    return path


def _output_dir(args: argparse.Namespace, recipe) -> Path:
    if args.output_dir:
        return _writable_dir(Path(args.output_dir), what="-o/--output-dir")
    return _writable_dir(recipe.output_dir, what=f"{recipe.source}: output_dir")


def _configure_plan(p: argparse.ArgumentParser) -> None:
    p.epilog = examples("zoo plan examples/banking77-probe.toml", "zoo plan examples/banking77-finetune.toml --json")
    p.add_argument("recipe", help="recipe file (TOML)")
    p.add_argument("-s", "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key (dotted; value parsed as TOML), e.g. -s training.epochs=3")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--no-model", action="store_true", help="do not load the backbone (no parameter counts)")


def _run_plan(args: argparse.Namespace) -> int:
    from zoo.runner.plan import plan
    from zoo.runner.recipe import load_recipe

    recipe = load_recipe(args.recipe, overrides=args.overrides)
    result = plan(recipe, build_model=not args.no_model)
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.format())
    return 0


def _configure_run(p: argparse.ArgumentParser) -> None:
    p.epilog = examples("zoo run examples/banking77-probe.toml",
                        "zoo run examples/sst2-probe.toml -s data.max_train=2000 -o /tmp/runs --quiet")
    p.add_argument("recipe", help="recipe file (TOML)")
    p.add_argument("-s", "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key (dotted; value parsed as TOML), e.g. -s training.lr=1e-4")
    p.add_argument("-o", "--output-dir", help="where run directories go (default: the recipe's output_dir)")
    p.add_argument("--no-sweep", action="store_true", help="ignore the recipe's [sweep] and run the base recipe once")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    p.add_argument("--json", action="store_true", help="print the record (or sweep summary) as JSON")
    search = p.add_argument_group("search ([sweep] method = \"optuna\")")
    search.add_argument("--workers", type=int, default=1, metavar="N",
                        help="run the trials in N worker processes sharing the sweep's journal")
    search.add_argument("--sweep-dir", metavar="DIR", help="resume (or join) the sweep in DIR")
    search.add_argument("--worker-only", action="store_true",
                        help="run trials of the sweep in --sweep-dir, print nothing, write no summary")
    search.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="ray: run the trials on a Ray cluster with Ray Tune (pip install 'transferzoo[ray]')")
    search.add_argument("--address", metavar="ADDR",
                        help="the Ray cluster to join (e.g. 10.0.0.1:6379; default: start a local one)")
    search.add_argument("--cpus-per-trial", type=float, default=1.0, metavar="N", help="Ray: CPUs each trial holds")
    search.add_argument("--gpus-per-trial", type=float, default=0.0, metavar="N", help="Ray: GPUs each trial holds")
    dist = p.add_argument_group("data-parallel training")
    dist.add_argument("--nproc", type=int, default=1, metavar="N",
                      help="fine-tune with DistributedDataParallel in N processes on this machine (torchrun)")


def _check_run_options(args: argparse.Namespace, recipe) -> None:
    from zoo.errors import RecipeError

    sweeping = recipe.sweep is not None and not args.no_sweep
    optuna = sweeping and recipe.sweep.method == "optuna"
    if (args.workers != 1 or args.executor != "local" or args.sweep_dir or args.worker_only) and not optuna:
        raise RecipeError("--workers, --sweep-dir, --worker-only and --executor apply to a [sweep] with "
                          "method = \"optuna\"; this recipe has " + (f"method = {recipe.sweep.method!r}."
                                                                      if sweeping else "no [sweep] (or --no-sweep)."),
                          source=recipe.source, key="sweep.method")
    if args.workers < 1:
        raise RecipeError(f"--workers must be at least 1, got {args.workers}.", source=recipe.source)
    if args.worker_only and not args.sweep_dir:
        raise RecipeError("--worker-only needs --sweep-dir (the sweep to work on).", source=recipe.source)
    if args.nproc != 1 and sweeping:
        raise RecipeError("--nproc trains one run with several processes; a sweep's trials run in parallel with "
                          "--workers or --executor ray. Use --no-sweep, or drop --nproc.", source=recipe.source)
    if args.address and args.executor != "ray":
        raise RecipeError("--address names a Ray cluster; add --executor ray.", source=recipe.source)


def _run_run(args: argparse.Namespace) -> int:
    from zoo.runner.recipe import load_recipe

    recipe = load_recipe(args.recipe, overrides=args.overrides)
    out = _output_dir(args, recipe)
    _check_run_options(args, recipe)
    if args.nproc != 1:
        return _launch_torchrun(args)
    if recipe.sweep is not None and not args.no_sweep and recipe.sweep.method == "optuna":
        return _run_search(args, recipe, out)
    if recipe.sweep is not None and not args.no_sweep:
        from zoo.runner.sweep import run_sweep

        sweep = run_sweep(recipe, output_dir=out, progress=not args.quiet, verbose=not args.quiet)
        print(json.dumps(sweep.to_dict(), indent=2) if args.json else sweep.format())
        return 1 if sweep.failed else 0
    from zoo.runner.run import run_recipe

    result = run_recipe(recipe, output_dir=out, progress=not args.quiet, verbose=not args.quiet)
    from zoo.distributed import context_from_env

    if not context_from_env().is_writer:  # under torchrun, rank 0 reports
        return 0
    if args.json:
        print(json.dumps(result.record.to_dict(), indent=2))
        return 0
    print(f"run {result.run_id}: {result.run_dir}")
    for name, metrics in result.metrics.items():
        acc, f1 = metrics.get("accuracy"), metrics.get("macro_f1")
        ci = metrics.get("accuracy_ci95")
        line = f"  {name}: accuracy {acc:.4f}" if isinstance(acc, float) else f"  {name}: {metrics}"
        if isinstance(ci, (list, tuple)) and len(ci) == 2:
            line += f" [{ci[0]:.4f}, {ci[1]:.4f}]"
        if isinstance(f1, float):
            line += f", macro-F1 {f1:.4f}"
        if isinstance(metrics.get("accuracy_std"), float):
            line += f", accuracy std {metrics['accuracy_std']:.4f}"
        print(line)
    print(f"  report: {result.run_dir / 'report.md'}")
    return 0


def _launch_torchrun(args: argparse.Namespace) -> int:
    """Re-run this command under ``torch.distributed.run`` with ``--nproc`` processes."""
    import subprocess

    from zoo.distributed import context_from_env, launch_command
    from zoo.errors import DistributedError

    if context_from_env().active:
        raise DistributedError("--nproc is for starting the job; this process is already one of a torchrun job. "
                               "Drop --nproc (torchrun's --nproc-per-node sets the count).")
    argv, skip = [], False
    for item in getattr(args, "_argv", None) or []:
        if skip:
            skip = False
        elif item == "--nproc":
            skip = True
        elif not item.startswith("--nproc="):
            argv.append(item)
    if not argv:
        raise DistributedError("cannot rebuild the command line for torchrun; run "
                               "`torchrun --nproc-per-node N -m zoo run RECIPE` yourself.")
    return subprocess.call(launch_command(argv, args.nproc))


def _run_search(args: argparse.Namespace, recipe, out) -> int:
    from pathlib import Path

    sweep_dir = Path(args.sweep_dir) if args.sweep_dir else None
    if args.executor == "ray":
        from zoo.search.ray_exec import run_ray_sweep

        result = run_ray_sweep(recipe, sweep_dir=sweep_dir, output_dir=out, address=args.address,
                               cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
                               verbose=not args.quiet)
    else:
        from zoo.search.optuna_sweep import run_optuna_sweep

        result = run_optuna_sweep(recipe, sweep_dir=sweep_dir, output_dir=out, workers=args.workers,
                                  worker_only=args.worker_only, progress=not args.quiet, verbose=not args.quiet)
    if result is not None:
        print(json.dumps(result.to_dict(), indent=2, default=str) if args.json else result.format())
    return 0


def _configure_reproduce(p: argparse.ArgumentParser) -> None:
    p.epilog = examples("zoo reproduce runs/banking77-probe-20250101T000000Z-abc123",
                        "zoo reproduce runs/RUN_ID -o /tmp/rerun --json")
    p.add_argument("run_dir", help="a finished run directory (with record.json)")
    p.add_argument("-o", "--output-dir", help="where the re-run goes (default: beside the original run)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--strict", action="store_true",
                   help="refuse when a plugin version or the run's recipe.toml changed since the run (default: warn)")


def _run_reproduce(args: argparse.Namespace) -> int:
    from zoo.runner.reproduce import reproduce

    result = reproduce(args.run_dir, output_dir=Path(args.output_dir) if args.output_dir else None,
                       progress=not args.quiet, verbose=not args.quiet, strict=args.strict)
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.format())
    return 0 if result.identical else 1


def _configure_runs(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    clean = sub.add_parser("clean", help="list (or remove) the .partial directories of runs that died")
    clean.add_argument("output_dir", nargs="?", default="runs", help="a folder of run directories (default: runs)")
    clean.add_argument("--remove", action="store_true", help="delete them (default: only list them)")
    last = sub.add_parser("last", help="print the directory of the newest finished run",
                          epilog=examples("zoo runs last", 'zoo export "$(zoo runs last)" --format onnx',
                                          "zoo runs last /tmp/runs --name banking77-probe"),
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    last.add_argument("output_dir", nargs="?", default="runs", help="a folder of run directories (default: runs)")
    last.add_argument("--name", help="only runs of the recipe with this name")
    p.epilog = examples("zoo runs clean runs", "zoo runs clean runs --remove", 'zoo reproduce "$(zoo runs last)"')


def _run_runs(args: argparse.Namespace) -> int:
    import shutil

    if args.action == "last":
        from zoo.runner.record import latest_run

        print(latest_run(args.output_dir, name=args.name))
        return 0

    from zoo.runner.record import stale_partials

    from zoo.errors import RunRecordError

    folder = Path(args.output_dir)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise RunRecordError(f"{what}; give the folder your runs are written to (a recipe's output_dir, "
                             "or `zoo run -o DIR`)", path=str(folder))
    dead = stale_partials(args.output_dir)
    for path in dead:
        if args.remove:
            shutil.rmtree(path)
        print(("removed " if args.remove else "") + str(path))
    if not dead:
        print(f"no interrupted runs of dead processes under {args.output_dir}")
    elif not args.remove:
        print(f"{len(dead)} interrupted run(s) of dead processes; `zoo runs clean {args.output_dir} --remove` "
              "deletes them")
    return 0


@hookimpl
def register_commands(register) -> None:
    register("plan", configure=_configure_plan, run=_run_plan,
             summary="Show what a recipe composes (plugins, parameters, data sizes) without running it.")
    register("run", configure=_configure_run, run=_run_run,
             summary="Run a transfer experiment from a recipe into a recorded run directory.")
    register("reproduce", configure=_configure_reproduce, run=_run_reproduce,
             summary="Re-run a recorded run, refuse if an input changed, compare metrics and weights.")
    register("runs", configure=_configure_runs, run=_run_runs,
             summary="Manage run directories: `zoo runs last` prints the newest run, `zoo runs clean` lists or "
                     "removes runs interrupted by a dead process.")
