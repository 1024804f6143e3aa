"""One trial of a search: the recipe with the trial's values, run as an ordinary recorded run.

The per-epoch validation accuracy reaches the search (Optuna's pruner, Ray's scheduler) through
the training loop's epoch hook, ``zoo_epoch_end``: :func:`run_trial` registers a small reporter
plugin for the length of the run. When the search stops the trial (an exception raised by the
reporter), the run directory is renamed from ``<run id>.partial`` to ``<run id>.pruned`` with a
``stopped.json`` inside: it never looks like a complete run (those have ``record.json`` and no
suffix), and the reason is written down.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .._atomic import write_text_atomic
from ..hookspecs import hookimpl
from .space import override_text

__all__ = ["TrialRun", "trial_recipe", "run_trial", "epoch_metric", "PRUNED_SUFFIX"]

PRUNED_SUFFIX = ".pruned"


@dataclass(frozen=True)
class TrialRun:
    """A finished trial: the value it is judged by, under which name, and its run."""

    value: float
    metric: str
    run_id: str
    run_dir: Path
    record: Mapping[str, Any]


def trial_recipe(recipe: Any, params: Mapping[str, Any]) -> Any:
    """``recipe`` without its ``[sweep]``, with each ``key = value`` of ``params`` set (validated)."""
    from ..runner.recipe import apply_overrides, recipe_from_dict

    base = dict(recipe.to_dict())
    base.pop("sweep", None)
    overrides = [override_text(k, v) for k, v in params.items()]
    return recipe_from_dict(apply_overrides(base, overrides, source=recipe.source), source=recipe.source,
                            base_dir=recipe.base_dir, overrides=(*recipe.overrides, *overrides))


def epoch_metric(metric: str) -> str | None:
    """The per-epoch metric behind a sweep metric: the head's ``val_accuracy``; None for evaluators'."""
    return "val_accuracy" if metric in ("auto", "head.val_accuracy") else None


class _EpochReporter:
    """A plugin for one run: passes each epoch's validation accuracy to ``report``."""

    def __init__(self, report: Callable[[int, float], None] | None, key: str | None):
        self.report, self.key = report, key
        self.run_dir: Path | None = None
        self.epochs: dict[int, float] = {}

    @hookimpl
    def zoo_experiment_start(self, run: Any) -> None:
        self.run_dir = getattr(run, "run_dir", None)

    @hookimpl
    def zoo_epoch_end(self, run: Any, epoch: int, metrics: Mapping[str, float]) -> None:
        self.run_dir = getattr(run, "run_dir", self.run_dir)
        if self.key is None or self.key not in metrics:
            return
        self.epochs[int(epoch)] = float(metrics[self.key])
        if self.report is not None:
            self.report(int(epoch), float(metrics[self.key]))


def run_trial(recipe: Any, params: Mapping[str, Any], *, output_dir: Path, metric: str = "auto",
              report: Callable[[int, float], None] | None = None, started: Callable[[Path], None] | None = None,
              stop_exceptions: tuple[type[BaseException], ...] = (), progress: bool = False,
              verbose: bool = False) -> TrialRun:
    """Run ``recipe`` with ``params`` into ``output_dir``; ``report(epoch, val_accuracy)`` after each epoch.

    ``started(path)`` is called with the run directory when it is final. One of ``stop_exceptions``
    raised by ``report`` (a pruned trial) stops the run; its directory becomes ``<run id>.pruned``
    and the exception propagates. After any other exception the directory stays ``.partial``.

    Raises:
        RecipeError: a value does not validate.
        ValueError: the run has no validation value for ``metric``.
    """
    from ..plugins import get_manager
    from ..runner.run import run_recipe
    from ..runner.sweep import validation_metric

    rec = trial_recipe(recipe, params)
    reporter = _EpochReporter(report, epoch_metric(metric))
    pm = get_manager()
    name = pm.register(reporter, f"zoo.search.trial-reporter-{id(reporter)}", distribution="transferzoo",
                       builtin=True)
    try:
        try:
            result = run_recipe(rec, output_dir=output_dir, progress=progress, verbose=verbose)
        except stop_exceptions as exc:
            _mark_stopped(reporter, exc, started)
            raise
    finally:
        pm.unregister(name=name)
    if started is not None:
        started(result.run_dir)
    metric_name, value = validation_metric(result.record, metric)
    if value is None:
        raise ValueError(f"run {result.run_dir} has no validation value {metric!r} to judge the trial by; set "
                         f"[sweep] metric to one the recipe produces, e.g. 'head.val_accuracy' (train a head with "
                         f"a validation split) or '<evaluator>.val_accuracy'.")
    return TrialRun(float(value), metric_name, result.run_id, result.run_dir, result.record)


def _mark_stopped(reporter: _EpochReporter, exc: BaseException, started: Callable[[Path], None] | None) -> None:
    partial = reporter.run_dir
    if partial is None or not Path(partial).is_dir() or not str(partial).endswith(".partial"):
        return
    partial = Path(partial)
    stopped = partial.with_name(partial.name.removesuffix(".partial") + PRUNED_SUFFIX)
    write_text_atomic(partial / "stopped.json", json.dumps(
        {"reason": f"{type(exc).__name__}: {exc}", "epochs": {str(k): v for k, v in sorted(reporter.epochs.items())}},
        indent=2) + "\n")
    os.replace(partial, stopped)
    if started is not None:
        started(stopped)
