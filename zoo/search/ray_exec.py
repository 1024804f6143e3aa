"""``zoo run RECIPE --executor ray [--address ADDR]``: the trials of an Optuna sweep on a Ray cluster.

Ray Tune runs the trials: its ``OptunaSearch`` proposes values (a TPE sampler seeded from
``[sweep] seed``) and the ``ASHAScheduler`` stops unpromising trials on the per-epoch validation
accuracy (``time_attr = "epoch"``, ``max_t`` the most epochs a trial can train, grace period one
epoch). Each trial holds ``--cpus-per-trial`` CPUs and ``--gpus-per-trial`` GPUs, so Ray runs as
many at once as the cluster has shares. Each trial is an ordinary recorded run in
``<sweep dir>/runs/ray-<trial id>/``; one ASHA stopped is renamed ``<run id>.pruned`` with a
``stopped.json``. Without ``--address`` a local Ray instance is started (or the one this process
already joined is used). Every machine of a cluster needs transferzoo installed and the sweep
directory, the data and the Hub cache at the same paths (a shared filesystem).

Ray is an optional extra: ``pip install 'transferzoo[ray]'``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from .._atomic import write_text_atomic
from ..errors import MissingExtraError, ZooError

__all__ = ["run_ray_sweep", "require_ray"]

METRIC = "val_accuracy"


def require_ray() -> Any:
    """Import ``ray`` (with Tune and its Optuna searcher) or say how to install it.

    Raises:
        MissingExtraError: Ray, Ray Tune or Optuna is not installed.
    """
    try:
        import ray
        import ray.tune  # noqa: F401
        from ray.tune.search.optuna import OptunaSearch  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(package=getattr(exc, "name", None) or "ray", extra="ray",
                                feature="--executor ray") from None
    return ray


def _trainable(config: Mapping[str, Any], *, recipe_raw: Mapping[str, Any], source: str, base_dir: str,
               overrides: tuple[str, ...], keys: tuple[str, ...], runs_dir: str, metric: str) -> None:
    """One Ray Tune trial: the recipe with the trial's values; each epoch's value goes to ``tune.report``."""
    from ray import tune

    from ..runner.recipe import recipe_from_dict
    from .trial import run_trial

    recipe = recipe_from_dict(recipe_raw, source=source, base_dir=Path(base_dir), overrides=overrides)
    params = {k: config[k] for k in keys}
    trial_id = tune.get_context().get_trial_id()

    def report(epoch: int, value: float) -> None:
        tune.report({METRIC: value, "epoch": epoch + 1})

    run_trial(recipe, params, output_dir=Path(runs_dir) / f"ray-{trial_id}", metric=metric, report=report)


def run_ray_sweep(recipe: Any, *, sweep_dir: Path | None = None, output_dir: Path | None = None,
                  address: str | None = None, cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0,
                  verbose: bool = True) -> Any:
    """Run the ``[sweep]`` of ``recipe`` (method ``optuna``) with Ray Tune; returns the search summary.

    Raises:
        MissingExtraError: Ray is not installed.
        SearchSpaceError: the space does not fit the recipe.
        ZooError: a trial failed (its error is shown).
    """
    ray = require_ray()
    import optuna
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from .optuna_study import make_sampler
    from .optuna_sweep import new_sweep_dir, recipe_space, study_settings, summarize

    space = recipe_space(recipe)
    settings = study_settings(recipe, space)
    if settings.metric not in ("auto", "head.val_accuracy"):
        raise ZooError(f"--executor ray follows the head's per-epoch validation accuracy; [sweep] metric = "
                       f"{settings.metric!r} has no per-epoch value. Use metric = \"head.val_accuracy\" (or auto).")
    sweep_dir = (Path(sweep_dir) if sweep_dir else new_sweep_dir(recipe, output_dir)).resolve()
    runs = sweep_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    if not ray.is_initialized():  # join --address, or start a local instance (no dashboard)
        local = {} if address else {"include_dashboard": False}
        ray.init(address=address, log_to_driver=verbose, configure_logging=verbose, **local)
    resources = {"cpu": cpus_per_trial, "gpu": gpus_per_trial}
    trainable = tune.with_resources(tune.with_parameters(
        _trainable, recipe_raw=recipe.to_dict(), source=recipe.source, base_dir=str(recipe.base_dir),
        overrides=tuple(recipe.overrides), keys=space.keys, runs_dir=str(runs), metric=settings.metric), resources)
    searcher = OptunaSearch(space=space.distributions(), metric=METRIC, mode="max", sampler=make_sampler(settings, 0))
    scheduler = ASHAScheduler(time_attr="epoch", metric=METRIC, mode="max", max_t=settings.max_epochs, grace_period=1,
                              reduction_factor=2)
    tuner = tune.Tuner(trainable, tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler,
                                                              num_samples=settings.trials),
                       run_config=tune.RunConfig(name="tune", storage_path=str(sweep_dir / "ray"),
                                                 verbose=1 if verbose else 0))
    grid = tuner.fit()
    rows = [_row(i, result, runs, space.keys) for i, result in enumerate(grid)]
    failed = [r for r in rows if r["state"] == "FAIL"]
    extra = {"ray_version": ray.__version__, "optuna_version": optuna.__version__, "space": space.to_dict(),
             "settings": {**settings.to_dict(), "pruner": {"name": "ASHAScheduler", "time_attr": "epoch",
                                                           "max_t": settings.max_epochs, "grace_period": 1,
                                                           "reduction_factor": 2},
                          "resources_per_trial": resources, "address": address or "local"}}
    result = summarize(recipe, sweep_dir, method="ray", rows=rows, extra=extra)
    if failed:
        raise ZooError(f"{len(failed)} of {len(rows)} Ray trials failed; the first: {failed[0]['error']}. "
                       f"Summary so far: {result.summary_path}")
    return result


def _row(number: int, result: Any, runs: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """One trial of the result grid as a summary row; a run ASHA stopped becomes ``.pruned``."""
    trial_id = result.metrics.get("trial_id") if result.metrics else None
    trial_dir = runs / f"ray-{trial_id}" if trial_id else None
    complete = [p for p in trial_dir.iterdir() if (p / "record.json").is_file()] if trial_dir and trial_dir.is_dir() else []
    partial = sorted(trial_dir.glob("*.partial")) if trial_dir and trial_dir.is_dir() else []
    epochs = {}
    if result.metrics_dataframe is not None and METRIC in result.metrics_dataframe:
        frame = result.metrics_dataframe
        epochs = {str(int(e) - 1): float(v) for e, v in zip(frame["epoch"], frame[METRIC])}
    state, run_dir, value = "COMPLETE", None, None
    if result.error is not None:
        state = "FAIL"
    elif complete:
        run_dir = complete[0]
        record = json.loads((run_dir / "record.json").read_text(encoding="utf-8"))
        from ..runner.sweep import validation_metric

        value = validation_metric(record, "auto")[1]
    else:
        state = "PRUNED"
        if partial:
            run_dir = partial[0].with_name(partial[0].name.removesuffix(".partial") + ".pruned")
            write_text_atomic(partial[0] / "stopped.json", json.dumps(
                {"reason": "stopped by Ray Tune's ASHA scheduler", "epochs": epochs}, indent=2) + "\n")
            os.replace(partial[0], run_dir)
        value = epochs[max(epochs, key=int)] if epochs else None
    return {"number": number, "state": state, "value": value, "params": {k: result.config.get(k) for k in keys},
            "intermediate_values": epochs, "run_dir": str(run_dir) if run_dir else None, "ray_trial_id": trial_id,
            "error": None if result.error is None else f"{type(result.error).__name__}: {result.error}"}
