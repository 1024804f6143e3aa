"""Built-in plugin: the experiment commands ``plan``, ``run``, ``reproduce``, ``runs``.

Nothing here imports torch at module level: the CLI's start-up stays fast.
"""

from __future__ import annotations

import argparse
import json

from zoo.hookspecs import hookimpl

__all__ = ["register_commands"]


def _configure_plan(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("recipe", help="recipe file (TOML)")
    p.add_argument("-s", "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key (dotted; value parsed as TOML), e.g. -s training.lr=1e-4")
    p.add_argument("-o", "--output-dir", help="where run directories go (default: the recipe's output_dir)")
    p.add_argument("--no-sweep", action="store_true", help="ignore the recipe's [sweep] and run the base recipe once")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    p.add_argument("--json", action="store_true", help="print the record (or sweep summary) as JSON")


def _run_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from zoo.runner.recipe import load_recipe

    recipe = load_recipe(args.recipe, overrides=args.overrides)
    out = Path(args.output_dir) if args.output_dir else None
    if recipe.sweep is not None and not args.no_sweep:
        from zoo.runner.sweep import run_sweep

        sweep = run_sweep(recipe, output_dir=out, progress=not args.quiet, verbose=not args.quiet)
        print(json.dumps(sweep.to_dict(), indent=2) if args.json else sweep.format())
        return 0
    from zoo.runner.run import run_recipe

    result = run_recipe(recipe, output_dir=out, progress=not args.quiet, verbose=not args.quiet)
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


def _configure_reproduce(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a finished run directory (with record.json)")
    p.add_argument("-o", "--output-dir", help="where the re-run goes (default: beside the original run)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--strict", action="store_true",
                   help="refuse when a plugin version or the run's recipe.toml changed since the run (default: warn)")


def _run_reproduce(args: argparse.Namespace) -> int:
    from pathlib import Path

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


def _run_runs(args: argparse.Namespace) -> int:
    import shutil

    from zoo.runner.record import stale_partials

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
             summary="Manage run directories: `zoo runs clean` lists or removes runs interrupted by a dead process.")
