"""Hyperparameter search: a recipe's ``[sweep]`` table, each trial its own recorded run.

``method = "grid"`` runs every combination of ``[sweep.params]``; ``"random"`` draws ``trials``
combinations with the sweep's seed. The best trial is chosen on a *validation* metric only
(``metric``; ``auto`` picks the head's validation accuracy, else the first evaluator's); test
metrics are shown in the table but never used to choose.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .._progress import progress as show_progress
from .._text import text_table
from .recipe import Recipe, apply_overrides, recipe_from_dict

__all__ = ["Trial", "SweepResult", "run_sweep", "trial_overrides", "validation_metric"]


@dataclass(frozen=True)
class Trial:
    index: int
    params: dict[str, Any]
    run_id: str
    run_dir: Path | None
    validation: float | None
    test: dict[str, float]
    error: str | None = None


@dataclass(frozen=True)
class SweepResult:
    name: str
    metric: str
    trials: tuple[Trial, ...]
    best: Trial | None
    summary_path: Path

    @property
    def failed(self) -> tuple[Trial, ...]:
        """Trials that raised instead of finishing (their error is in ``sweep.json``)."""
        return tuple(t for t in self.trials if t.error is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metric": self.metric,
            "best": self.best.index if self.best else None,
            "summary": str(self.summary_path),
            "trials": [{"index": t.index, "params": t.params, "run_id": t.run_id,
                        "run_dir": str(t.run_dir) if t.run_dir else None,
                        "validation": t.validation, "test": t.test, "error": t.error} for t in self.trials],
        }

    def format(self) -> str:
        keys = sorted({k for t in self.trials for k in t.params})
        tests = sorted({k for t in self.trials for k in t.test})
        header = ["#", *keys, f"val ({self.metric})", *[f"test {k}" for k in tests], "run"]
        rows = []
        for t in self.trials:
            mark = "*" if self.best is not None and t.index == self.best.index else ""
            rows.append([f"{t.index}{mark}", *[json.dumps(t.params.get(k)) for k in keys],
                         "" if t.validation is None else f"{t.validation:.4f}",
                         *[f"{t.test[k]:.4f}" if k in t.test else "" for k in tests],
                         t.run_id if t.error is None else f"FAILED: {t.error}"])
        out = [text_table(header, rows)]
        if self.best is not None:
            out += ["", f"best (chosen on validation only): trial {self.best.index} "
                        f"{json.dumps(self.best.params)} -> {self.best.run_dir}"]
        out += [f"summary: {self.summary_path}"]
        return "\n".join(out)


def trial_overrides(params: Mapping[str, Sequence[Any]], *, method: str, trials: int, seed: int) -> list[dict[str, Any]]:
    """The parameter combinations a sweep runs, in a fixed order."""
    keys = list(params)
    grid = [dict(zip(keys, combo)) for combo in itertools.product(*(params[k] for k in keys))]
    if method == "grid":
        return grid
    rng = random.Random(seed)
    if trials >= len(grid):
        rng.shuffle(grid)
        return grid
    return rng.sample(grid, trials)


def validation_metric(record: Mapping[str, Any], metric: str) -> tuple[str, float | None]:
    """(metric name, value) of a run's validation score; never a test metric.

    Candidates, in order: ``adaptation.CRITERION`` (a domain-adaptation run's label-free selection
    score, see :mod:`zoo.adapt.criteria`), ``head.val_accuracy`` (the trained head on the
    validation split), then per evaluator ``NAME.val_accuracy``: its validation metrics, or its
    best hyperparameter trial's validation accuracy.
    """
    candidates: list[tuple[str, float]] = []
    for name, ev in record.get("evaluations", {}).items():
        m, d = ev.get("metrics", {}), ev.get("details", {}) or {}
        value = m.get("val_accuracy")
        if value is None and isinstance(d.get("validation"), Mapping):
            value = d["validation"].get("accuracy")
        if value is None and d.get("trials") and d.get("selected_on") == "validation":
            value = max(t["accuracy"] for t in d["trials"])
        if isinstance(value, (int, float)):
            candidates.append((f"{name}.val_accuracy", float(value)))
    selection = (record.get("adaptation") or {}).get("selection")
    if selection:  # a domain-adaptation run: its label-free criterion comes first (no target label is read)
        candidates.insert(0, (f"adaptation.{selection['criterion']}", float(selection["score"])))
    if metric != "auto":
        return metric, dict(candidates).get(metric)
    return candidates[0] if candidates else ("validation", None)


def _value_text(value: Any) -> str:
    from .._toml import inline

    return inline(value)


def run_sweep(recipe: Recipe, *, output_dir: Path | None = None, progress: bool = True,
              verbose: bool = True) -> SweepResult:
    """Run every trial of ``recipe.sweep`` as its own recorded run; choose the best on validation."""
    from .._atomic import write_text_atomic
    from .record import new_run_id
    from .run import run_recipe

    sweep = recipe.sweep
    if sweep is None:
        raise ValueError("the recipe has no [sweep] table")
    base = dict(recipe.to_dict())
    base.pop("sweep", None)
    combos = trial_overrides(sweep.params, method=sweep.method, trials=sweep.trials, seed=sweep.seed)
    planned = []  # every trial's recipe is validated before the first one starts
    for params in combos:
        overrides = [f"{k}={_value_text(v)}" for k, v in params.items()]
        planned.append((params, overrides, recipe_from_dict(
            apply_overrides(base, overrides, source=recipe.source), source=recipe.source,
            base_dir=recipe.base_dir, overrides=(*recipe.overrides, *overrides))))
    out_dir = Path(output_dir) if output_dir else recipe.output_dir
    sweep_id = new_run_id(f"{recipe.name}-sweep")
    trials: list[Trial] = []
    metric_name = sweep.metric
    for i, (params, overrides, trial_recipe) in show_progress(list(enumerate(planned)), desc="sweep",
                                                                      unit="trial"):
        if verbose:
            print(f"sweep trial {i + 1}/{len(planned)}: {' '.join(overrides)}", flush=True)
        try:
            result = run_recipe(trial_recipe, output_dir=out_dir / sweep_id, progress=progress, verbose=verbose)
        except Exception as exc:  # one failed trial must not lose the others' results
            trials.append(Trial(i, dict(params), "", None, None, {}, error=f"{type(exc).__name__}: {exc}"))
            if verbose:
                print(f"sweep trial {i + 1}/{len(planned)} failed: {type(exc).__name__}: {exc}", flush=True)
            continue
        metric_name, val = validation_metric(result.record, sweep.metric)
        tests = {k: float(m["accuracy"]) for k, m in result.record["metrics"].items()
                 if isinstance(m.get("accuracy"), (int, float))}
        trials.append(Trial(i, dict(params), result.run_id, result.run_dir, val, tests))
    scored = [t for t in trials if t.validation is not None]
    best = max(scored, key=lambda t: (t.validation, -t.index)) if scored else None
    summary = out_dir / sweep_id / "sweep.json"
    res = SweepResult(recipe.name, metric_name, tuple(trials), best, summary)
    write_text_atomic(summary, json.dumps(res.to_dict(), indent=2) + "\n")
    return res
