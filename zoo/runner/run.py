"""``zoo run``: assemble a validated recipe once, then execute its stages (:mod:`zoo.runner.stages`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .recipe import Recipe, load_recipe

__all__ = ["RunResult", "run_recipe", "run_file"]


@dataclass(frozen=True)
class RunResult:
    """A finished run: its id, directory and typed record (:class:`zoo.runner.record.RunRecord`)."""

    run_id: str
    run_dir: Path
    record: Any

    @property
    def metrics(self) -> Mapping[str, Any]:
        return self.record["metrics"]

    @property
    def seconds(self) -> float:
        return self.record["timings"]["total"]


def run_recipe(recipe: Recipe, *, overrides: Sequence[str] = (), progress: bool = True,
               verbose: bool = True, output_dir: Path | None = None) -> RunResult:
    """Run one recipe (a sweep recipe runs as a single trial with its base values).

    Raises:
        RecipeError: an override does not validate.
        HookError: a ``zoo_experiment_finish`` hook raised after the run was saved.
        ZooError: a backbone, dataset or plugin problem (see :mod:`zoo.errors`).
    """
    from .assembly import assemble
    from .stages import execute

    recipe = recipe.with_overrides(overrides) if overrides else recipe
    state = execute(assemble(recipe, build_model=False), output_dir=output_dir, progress=progress, verbose=verbose)
    return RunResult(state.run_id, state.directory.final, state.record)


def run_file(path: str | Path, *, overrides: Sequence[str] = (), **kwargs: Any) -> RunResult:
    """Load, validate and run the recipe at ``path``."""
    return run_recipe(load_recipe(path, overrides=overrides), **kwargs)
