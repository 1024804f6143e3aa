"""``[sweep] method = "optuna"``: trials of a recipe driven by an Optuna study in the sweep directory.

``zoo run RECIPE`` runs one worker in the current process; ``--workers N`` starts N worker
processes (``zoo run RECIPE --sweep-dir DIR --worker-only``) on one journal and waits for them;
``--sweep-dir DIR`` resumes (or joins) the sweep in DIR. Each trial is an ordinary recorded run
under ``DIR/runs/``; a pruned one ends as ``<run id>.pruned``. When the study has its trials,
``DIR/sweep.json`` and ``DIR/report.md`` (optimization history, parameter importances) are written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .._atomic import write_text_atomic
from .._text import text_table
from ..errors import RecipeError, ZooError
from .optuna_study import StudySettings, TrialContext, run_worker, study_attrs, trial_rows
from .space import SearchSpace, check_values, parse_space

__all__ = ["SearchResult", "run_optuna_sweep", "study_settings", "summarize", "worker_command", "new_sweep_dir"]


@dataclass(frozen=True)
class SearchResult:
    """A finished search: every trial, the best one (on validation), and where it is all written."""

    name: str
    method: str
    metric: str
    sweep_dir: Path
    trials: tuple[dict[str, Any], ...]
    best: int | None
    summary_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best_trial(self) -> dict[str, Any] | None:
        return next((t for t in self.trials if t["number"] == self.best), None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "method": self.method, "metric": self.metric, "sweep_dir": str(self.sweep_dir),
                "best": self.best, "summary": str(self.summary_path), **self.extra, "trials": list(self.trials)}

    def format(self) -> str:
        keys = sorted({k for t in self.trials for k in t["params"]})
        rows = [[f"{t['number']}{'*' if t['number'] == self.best else ''}", t["state"],
                 "" if t.get("value") is None else f"{t['value']:.4f}", *[json.dumps(t["params"].get(k)) for k in keys],
                 Path(t["run_dir"]).name if t.get("run_dir") else ""] for t in self.trials]
        out = [text_table(["#", "state", f"val ({self.metric})", *keys, "run"], rows)]
        best = self.best_trial
        if best is not None:
            out += ["", f"best (chosen on validation only): trial {best['number']} {json.dumps(best['params'])} "
                        f"-> {best.get('run_dir')}"]
        out += [f"summary: {self.summary_path}", f"report: {self.sweep_dir / 'report.md'}"]
        return "\n".join(out)


def study_settings(recipe: Any, space: SearchSpace) -> StudySettings:
    """The study settings a recipe's ``[sweep]`` asks for."""
    sweep = recipe.sweep
    epochs = next((d for d in space.dimensions if d.key == "training.epochs"), None)
    max_epochs = int(max(epochs.probe_values())) if epochs is not None else max(1, recipe.training.epochs)
    return StudySettings(trials=sweep.trials, seed=sweep.seed, pruner=sweep.pruner, startup_trials=sweep.startup_trials,
                         max_epochs=max_epochs, metric=sweep.metric)


def recipe_space(recipe: Any) -> SearchSpace:
    """The validated search space of ``recipe.sweep`` (every end and choice checked against the recipe)."""
    space = parse_space(recipe.to_dict().get("sweep", {}).get("params", {}), source=recipe.source)
    check_values(recipe, space)
    return space


def new_sweep_dir(recipe: Any, output_dir: Path | None) -> Path:
    from ..runner.record import new_run_id

    return (Path(output_dir) if output_dir else recipe.output_dir) / new_run_id(f"{recipe.name}-sweep")


def worker_command(recipe: Any, sweep_dir: Path, *, python: str | None = None) -> list[str]:
    """The command of one worker process on ``sweep_dir`` (the recipe file and its ``-s`` overrides)."""
    if recipe.source == "<recipe>" or not Path(recipe.source).is_file():
        raise RecipeError("worker processes read the recipe from its file; this recipe has none. Save it to a "
                          "file and run `zoo run FILE --workers N`.", source=recipe.source)
    overrides = [arg for o in recipe.overrides for arg in ("-s", o)]
    return [python or sys.executable, "-m", "zoo", "run", str(Path(recipe.source).resolve()), *overrides,
            "--sweep-dir", str(sweep_dir), "--worker-only", "--quiet"]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _log(verbose: bool):
    def log(message: str) -> None:
        if verbose:
            print(message, file=sys.stderr, flush=True)
    return log


def run_optuna_sweep(recipe: Any, *, sweep_dir: Path | None = None, output_dir: Path | None = None,
                     workers: int = 1, worker_only: bool = False, progress: bool = True,
                     verbose: bool = True) -> SearchResult | None:
    """Run (or resume, or join) the Optuna search of ``recipe`` in ``sweep_dir``.

    Returns the summary, or None for a ``worker_only`` process (the starter summarizes).

    Raises:
        SearchSpaceError: the space does not fit the recipe.
        StudyMismatchError: ``sweep_dir`` holds a study started with other settings.
        ZooError: a worker process failed.
    """
    import optuna

    space = recipe_space(recipe)
    settings = study_settings(recipe, space)
    sweep_dir = Path(sweep_dir) if sweep_dir else new_sweep_dir(recipe, output_dir)
    log = _log(verbose)
    log(f"zoo run: optuna sweep {recipe.name}, {settings.trials} trials -> {sweep_dir} "
        f"(resume or join with --sweep-dir {sweep_dir})")
    if workers > 1:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        cmd = worker_command(recipe, sweep_dir)
        procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
                 for _ in range(workers)]
        errors = [(i, p.communicate()[1]) for i, p in enumerate(procs)]
        failed = [(i, err) for (i, err), p in zip(errors, procs) if p.returncode != 0]
        if failed:
            i, err = failed[0]
            raise ZooError(f"sweep worker {i} of {workers} failed (exit {procs[i].returncode}); resume with "
                           f"--sweep-dir {sweep_dir}. Its last output:\n{err[-3000:]}")
    else:
        runs = sweep_dir / "runs"

        def objective(ctx: TrialContext) -> float:
            def started(path: Path) -> None:
                ctx.run_dir = str(path)

            trial = _run(recipe, ctx, runs, started, progress)
            return trial.value

        run_worker(sweep_dir, name=recipe.name, settings=settings, space=space, objective=objective, log=log)
        if worker_only:
            return None
    return summarize(recipe, sweep_dir, method="optuna",
                     extra={"optuna_version": optuna.__version__, "settings": settings.to_dict(),
                            "space": space.to_dict()})


def _run(recipe: Any, ctx: TrialContext, runs: Path, started: Any, progress: bool) -> Any:
    import optuna

    from .trial import run_trial

    return run_trial(recipe, ctx.params, output_dir=runs, metric=recipe.sweep.metric, report=ctx.report,
                     started=started, stop_exceptions=(optuna.TrialPruned,), progress=progress)


def summarize(recipe: Any, sweep_dir: Path, *, method: str, extra: Mapping[str, Any] | None = None,
              rows: list[dict[str, Any]] | None = None) -> SearchResult:
    """Write ``sweep.json`` and ``report.md`` for the trials of the study (or ``rows``) in ``sweep_dir``."""
    from .report import write_search_report

    extra = dict(extra or {})
    if rows is None:
        rows = [{"number": r["number"], "state": r["state"], "value": r["value"], "params": r["params"],
                 "intermediate_values": {str(k): v for k, v in r["intermediate_values"].items()},
                 "run_dir": r["user_attrs"].get("zoo:run_dir"), "worker": r["user_attrs"].get("zoo:worker"),
                 "seconds": r["user_attrs"].get("zoo:seconds")} for r in trial_rows(sweep_dir, name=recipe.name)]
        attrs = study_attrs(sweep_dir, name=recipe.name)
        extra.setdefault("optuna_version", attrs.get("zoo:optuna_version"))
        extra.setdefault("settings", attrs.get("zoo:settings"))
        extra.update(_importances(sweep_dir, recipe.name))
    done = [r for r in rows if r["state"] == "COMPLETE" and r.get("value") is not None]
    best = max(done, key=lambda r: (r["value"], -r["number"]))["number"] if done else None
    metric = recipe.sweep.metric if recipe.sweep.metric != "auto" else "head.val_accuracy"
    extra["trial_epochs"] = sum(len(r.get("intermediate_values") or {}) for r in rows)
    summary_path = sweep_dir / "sweep.json"
    result = SearchResult(recipe.name, method, metric, sweep_dir, tuple(rows), best, summary_path, extra)
    write_text_atomic(summary_path, json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    write_search_report(sweep_dir, result.to_dict())
    return result


def _importances(sweep_dir: Path, name: str) -> dict[str, Any]:
    import optuna

    from .optuna_study import _make_storage

    study = optuna.load_study(study_name=name, storage=_make_storage(sweep_dir))
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 2:
        return {"importances": None, "importances_note": f"needs at least 2 completed trials ({len(complete)} so far)"}
    try:
        values = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    except (RuntimeError, ValueError) as exc:  # e.g. every completed trial has the same parameters
        return {"importances": None, "importances_note": f"not computed: {exc}"}
    return {"importances": {k: float(v) for k, v in values.items()}, "importance_evaluator": "fANOVA (seed 0)"}

