"""An Optuna study in a journal file inside the sweep directory: resumable and shared by workers.

The study lives in ``<sweep dir>/optuna-journal.log`` (Optuna's ``JournalStorage`` over a file),
so a sweep killed with SIGKILL resumes where it stopped, and several worker processes, on this
machine or on others that share the directory, run trials of one study. Each worker loops:

1. under an exclusive lock on ``<sweep dir>/ask.lock``: mark the trials of dead local workers as
   failed (their pid is recorded on the trial), count the finished and running trials, stop when
   they reach ``trials``, otherwise ask for the next trial. Counting and asking under one lock
   is what keeps workers from overshooting the budget or sharing a trial;
2. run the objective, which reports a validation value per epoch to the pruner;
3. tell the study the outcome: complete (the final value), pruned, or failed (and re-raise).

The sampler is a TPE sampler seeded with ``seed + trial number``, made afresh for each trial, so
the parameters of trial *n* depend on the seed and the trials before it only: an uninterrupted
sweep is reproducible, and a resumed one does not replay the random draws of its first trials.

Every trial also gets ``trials/trial-NNNNN.json`` (written atomically when it ends), and the
study records the search space, the sampler and pruner settings and the Optuna version (their
defaults change between major versions); resuming with different ones raises
:class:`~zoo.errors.StudyMismatchError`. The journal's own file lock is an ``flock``, which the
kernel releases when a process dies, so a killed worker cannot leave the journal locked.
"""

from __future__ import annotations

import json
import os
import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping

from .._atomic import write_text_atomic
from ..errors import StudyMismatchError
from .space import SearchSpace

__all__ = ["StudySettings", "TrialContext", "WorkerResult", "JOURNAL_NAME", "open_study", "run_worker",
           "trial_rows", "study_attrs", "journal_path", "make_sampler", "make_pruner"]

JOURNAL_NAME = "optuna-journal.log"
_FINISHED = ("COMPLETE", "PRUNED")


@dataclass(frozen=True)
class StudySettings:
    """What decides the study's behaviour; recorded in the journal and compared on resume."""

    trials: int
    seed: int = 0
    pruner: Literal["median", "hyperband", "none"] = "median"
    startup_trials: int = 4
    max_epochs: int = 1
    direction: Literal["maximize", "minimize"] = "maximize"
    metric: str = "auto"

    def sampler_settings(self) -> dict[str, Any]:
        return {"name": "TPESampler", "seed": self.seed, "seed_of_trial": "seed + trial number",
                "n_startup_trials": self.startup_trials, "n_ei_candidates": 24, "multivariate": False,
                "constant_liar": True}

    def pruner_settings(self) -> dict[str, Any]:
        if self.pruner == "median":
            return {"name": "MedianPruner", "n_startup_trials": self.startup_trials, "n_warmup_steps": 0,
                    "interval_steps": 1}
        if self.pruner == "hyperband":
            return {"name": "HyperbandPruner", "min_resource": 1, "max_resource": self.max_epochs,
                    "reduction_factor": 3}
        return {"name": "NopPruner"}

    def to_dict(self) -> dict[str, Any]:
        """The settings a resumed study must share (the trial budget may grow: it is not among them)."""
        return {"direction": self.direction, "metric": self.metric, "sampler": self.sampler_settings(),
                "pruner": self.pruner_settings()}


def make_sampler(settings: StudySettings, trial_number: int) -> Any:
    """The TPE sampler that draws trial ``trial_number``."""
    import optuna

    s = settings.sampler_settings()
    return optuna.samplers.TPESampler(seed=settings.seed + trial_number, n_startup_trials=s["n_startup_trials"],
                                      n_ei_candidates=s["n_ei_candidates"], multivariate=s["multivariate"],
                                      constant_liar=s["constant_liar"])


def make_pruner(settings: StudySettings) -> Any:
    import optuna

    p = settings.pruner_settings()
    if p["name"] == "MedianPruner":
        return optuna.pruners.MedianPruner(n_startup_trials=p["n_startup_trials"], n_warmup_steps=p["n_warmup_steps"],
                                           interval_steps=p["interval_steps"])
    if p["name"] == "HyperbandPruner":
        return optuna.pruners.HyperbandPruner(min_resource=p["min_resource"], max_resource=p["max_resource"],
                                              reduction_factor=p["reduction_factor"])
    return optuna.pruners.NopPruner()


def journal_path(sweep_dir: str | os.PathLike[str]) -> Path:
    return Path(sweep_dir) / JOURNAL_NAME


class _FlockLock:
    """A journal file lock the kernel releases when its process dies (Optuna's lock is a symlink)."""

    def __init__(self, path: Path):
        self.path, self._fd = path, None

    def acquire(self) -> bool:
        import fcntl

        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        import fcntl

        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = _FlockLock(path)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _repair_journal(path: Path) -> None:
    """Drop a last line cut short by a kill (Optuna would fail on the next line appended after it)."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as fh:
        data = fh.read()
        if data.endswith(b"\n"):
            return
        fh.truncate(data.rfind(b"\n") + 1)
        fh.flush()
        os.fsync(fh.fileno())


def _make_storage(sweep_dir: Path) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.storages.journal._file import BaseJournalFileLock

    lock = type("ZooFlockLock", (_FlockLock, BaseJournalFileLock), {})(sweep_dir / "journal.lock")
    return JournalStorage(JournalFileBackend(str(journal_path(sweep_dir)), lock_obj=lock))


def open_study(sweep_dir: str | os.PathLike[str], *, name: str, settings: StudySettings, space: SearchSpace) -> Any:
    """The study (see :func:`_open`)."""
    return _open(Path(sweep_dir), name=name, settings=settings, space=space)[0]


def _open(sweep_dir: Path, *, name: str, settings: StudySettings, space: SearchSpace) -> tuple[Any, Any]:
    """(study, storage): create the study in ``sweep_dir`` or load it, checking it was started with the same settings.

    Raises:
        StudyMismatchError: the journal's study has another search space, other sampler or pruner
            settings, another trial budget or direction, or was made by another Optuna major version.
    """
    import optuna

    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with _locked(sweep_dir / "journal.lock"):
        _repair_journal(journal_path(sweep_dir))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _make_storage(sweep_dir)
    study = optuna.create_study(storage=storage, study_name=name, direction=settings.direction,
                                sampler=make_sampler(settings, 0), pruner=make_pruner(settings), load_if_exists=True)
    wanted = {"zoo:space": space.to_dict(), "zoo:settings": settings.to_dict(),
              "zoo:optuna_major": optuna.__version__.split(".")[0]}
    with _locked(sweep_dir / "ask.lock"):
        stored = study.user_attrs
        for key, value in wanted.items():
            if key not in stored:
                study.set_user_attr(key, value)
                study.set_user_attr("zoo:optuna_version", optuna.__version__)
            elif json.loads(json.dumps(value)) != stored[key]:
                field, was, now = _first_difference(key.removeprefix("zoo:"), stored[key], json.loads(json.dumps(value)))
                raise StudyMismatchError(journal=str(journal_path(sweep_dir)), field=field, stored=was, requested=now)
        study.set_user_attr("zoo:trials", settings.trials)
    return study, storage


def _first_difference(path: str, a: Any, b: Any) -> tuple[str, Any, Any]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if a.get(key) != b.get(key):
                return _first_difference(f"{path}.{key}", a.get(key), b.get(key))
    return path, a, b


@dataclass
class TrialContext:
    """What the objective gets: the trial's number and parameters, and ``report`` for the pruner."""

    number: int
    params: dict[str, Any]
    worker: str
    run_dir: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    _trial: Any = None

    def report(self, epoch: int, value: float) -> None:
        """Report the validation value after ``epoch``; raises ``optuna.TrialPruned`` when the pruner says so."""
        import optuna

        self._trial.report(float(value), step=int(epoch))
        self.info.setdefault("intermediate", {})[int(epoch)] = float(value)
        if self._trial.should_prune():
            raise optuna.TrialPruned(f"trial {self.number} pruned after epoch {epoch} at {value:.4f}")


@dataclass(frozen=True)
class WorkerResult:
    """The trials one worker ran, by number, with their final state."""

    worker: str
    trials: tuple[tuple[int, str], ...]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_dead(study: Any, storage: Any, sweep_dir: Path) -> list[int]:
    """Mark running trials whose worker process on this host is gone as failed."""
    from optuna.trial import TrialState

    host, reaped = platform.node(), []
    study_id = storage.get_study_id_from_name(study.study_name)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get("zoo:worker")
        if not owner or owner.get("host") != host or _alive(int(owner["pid"])):
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        storage.set_trial_user_attr(trial_id, "zoo:failure", f"worker {owner.get('worker')} (pid {owner['pid']}) "
                                                              f"died while running it; found by a later worker")
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
        reaped.append(t.number)
        _write_trial_file(sweep_dir, storage.get_trial(trial_id))
    return reaped


def _write_trial_file(sweep_dir: Path, trial: Any) -> None:
    data = {"number": trial.number, "state": trial.state.name, "value": trial.value, "params": trial.params,
            "intermediate_values": {str(k): v for k, v in sorted(trial.intermediate_values.items())},
            "started": trial.datetime_start.isoformat() if trial.datetime_start else None,
            "finished": trial.datetime_complete.isoformat() if trial.datetime_complete else None,
            "user_attrs": trial.user_attrs}
    write_text_atomic(sweep_dir / "trials" / f"trial-{trial.number:05d}.json",
                      json.dumps(data, indent=2, default=str) + "\n")


def run_worker(sweep_dir: str | os.PathLike[str], *, name: str, settings: StudySettings, space: SearchSpace,
               objective: Callable[[TrialContext], float], worker: str = "",
               log: Callable[[str], None] | None = None) -> WorkerResult:
    """Run trials of the study in ``sweep_dir`` until it holds ``settings.trials`` finished or running ones.

    ``objective`` returns the trial's final validation value; it may raise ``optuna.TrialPruned``
    (through :meth:`TrialContext.report`). Any other exception marks the trial failed and is
    re-raised (a failed trial does not count: a resumed sweep runs another in its place).
    """
    import optuna
    from optuna.trial import TrialState

    sweep_dir = Path(sweep_dir)
    study, storage = _open(sweep_dir, name=name, settings=settings, space=space)
    worker = worker or f"{platform.node()}:{os.getpid()}"
    distributions = space.distributions()
    done: list[tuple[int, str]] = []
    while True:
        with _locked(sweep_dir / "ask.lock"):
            reaped = _reap_dead(study, storage, sweep_dir)
            if reaped and log:
                log(f"  trials {reaped} were left running by a worker that died; marked failed")
            trials = study.get_trials(deepcopy=False)
            busy = sum(t.state.name in _FINISHED or t.state == TrialState.RUNNING for t in trials)
            if busy >= settings.trials:
                break
            study.sampler = make_sampler(settings, len(trials))
            trial = study.ask(distributions)
            trial.set_user_attr("zoo:worker", {"host": platform.node(), "pid": os.getpid(), "worker": worker})
            trial.set_user_attr("zoo:sampler_seed", settings.seed + len(trials))
        ctx = TrialContext(trial.number, dict(trial.params), worker, _trial=trial)
        if log:
            log(f"trial {trial.number} ({worker}): {json.dumps(ctx.params)}")
        t0 = time.perf_counter()
        try:
            value = objective(ctx)
        except optuna.TrialPruned:
            _finish(sweep_dir, study, trial, ctx, TrialState.PRUNED, None, t0)
            done.append((trial.number, "PRUNED"))
            if log:
                log(f"trial {trial.number}: pruned at epoch {max(ctx.info.get('intermediate', {0: 0}))}")
            continue
        except BaseException as exc:
            ctx.info["failure"] = f"{type(exc).__name__}: {exc}"
            _finish(sweep_dir, study, trial, ctx, TrialState.FAIL, None, t0)
            raise
        _finish(sweep_dir, study, trial, ctx, TrialState.COMPLETE, float(value), t0)
        done.append((trial.number, "COMPLETE"))
        if log:
            log(f"trial {trial.number}: validation {value:.4f}")
    return WorkerResult(worker, tuple(done))


def _finish(sweep_dir: Path, study: Any, trial: Any, ctx: TrialContext, state: Any, value: float | None, t0: float) -> None:
    if ctx.run_dir:
        trial.set_user_attr("zoo:run_dir", ctx.run_dir)
    trial.set_user_attr("zoo:seconds", round(time.perf_counter() - t0, 3))
    for key, val in ctx.info.items():
        if key != "intermediate":
            trial.set_user_attr(f"zoo:{key}", val)
    frozen = study.tell(trial, value, state=state, skip_if_finished=True)
    _write_trial_file(sweep_dir, frozen)


def trial_rows(sweep_dir: str | os.PathLike[str], *, name: str) -> list[dict[str, Any]]:
    """Every trial of the study in ``sweep_dir``: number, state, value, params, intermediate values, attrs."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=_make_storage(Path(sweep_dir)))
    return [{"number": t.number, "state": t.state.name, "value": t.value, "params": dict(t.params),
             "intermediate_values": dict(sorted(t.intermediate_values.items())), "user_attrs": dict(t.user_attrs)}
            for t in study.get_trials(deepcopy=False)]


def study_attrs(sweep_dir: str | os.PathLike[str], *, name: str) -> Mapping[str, Any]:
    import optuna

    return dict(optuna.load_study(study_name=name, storage=_make_storage(Path(sweep_dir))).user_attrs)
