"""Search spaces and the Optuna journal study, on real small work (SGD on sklearn's digits)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zoo.errors import RecipeError, SearchSpaceError, StudyMismatchError
from zoo.search.space import parse_space

pytest.importorskip("optuna", reason="the optuna extra is not installed: pip install 'transferzoo[optuna]'")

HERE = Path(__file__).resolve().parent
SUPPORT = HERE / "search_support.py"


# --- search space ---------------------------------------------------------------------------


def test_space_kinds_and_distributions():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    space = parse_space({"training.lr": {"low": 1e-5, "high": 1e-2, "log": True},
                         "training.epochs": {"low": 1, "high": 4},
                         "training.weight_decay": {"type": "float", "low": 0, "high": 0.1, "step": 0.01},
                         "head.name": ["linear", "mlp"],
                         "freezing.options.k": {"choices": [2, 4]}})
    d = space.distributions()
    assert d["training.lr"] == FloatDistribution(1e-5, 1e-2, log=True)
    assert d["training.epochs"] == IntDistribution(1, 4)
    assert d["training.weight_decay"] == FloatDistribution(0.0, 0.1, step=0.01)
    assert d["head.name"] == CategoricalDistribution(["linear", "mlp"])
    assert d["freezing.options.k"] == CategoricalDistribution([2, 4])
    assert not space.all_categorical
    assert space.to_dict()["training.lr"] == {"type": "float", "low": 1e-5, "high": 1e-2, "log": True}


@pytest.mark.parametrize("spec, words", [
    ({"low": 0.0, "high": 1.0, "log": True}, "needs low > 0"),
    ({"low": 2, "high": 1}, "must be less than high"),
    ({"low": 1}, "needs both low and high"),
    ({"low": 1, "high": 3, "lg": True}, "unknown key 'lg'"),
    ({"type": "int", "low": 1.5, "high": 3}, "whole numbers"),
    ({"low": 1e-4, "high": 1e-2, "log": True, "step": 1e-4}, "cannot be combined"),
    ({"choices": [1], "low": 0}, "takes only choices"),
    ({"type": "double", "low": 0, "high": 1}, "type must be"),
    ([], "at least one value"),
    ([1, 1], "repeat a value"),
    ("0.1", "expected a list of values"),
])
def test_space_errors_name_the_key(spec, words):
    with pytest.raises(SearchSpaceError, match=words) as info:
        parse_space({"training.lr": spec}, source="r.toml")
    assert info.value.key == "sweep.params.training.lr" and isinstance(info.value, RecipeError)
    assert str(info.value).startswith("r.toml")


# --- the study ----------------------------------------------------------------------------


def _worker(sweep: Path, trials: int, sleep: float = 0.0, name: str = "") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(SUPPORT), str(sweep), str(trials), str(sleep), name],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _states(sweep: Path) -> dict[int, str]:
    from zoo.search.optuna_study import trial_rows

    return {r["number"]: r["state"] for r in trial_rows(sweep, name="digits")}


def test_seeded_study_is_reproducible_and_records_settings(tmp_path):
    import optuna

    from search_support import digits_objective, settings, space
    from zoo.search.optuna_study import run_worker, study_attrs, trial_rows

    runs = []
    for d in ("a", "b"):
        res = run_worker(tmp_path / d, name="digits", settings=settings(5), space=space(), objective=digits_objective())
        assert [s for _, s in res.trials] == ["COMPLETE"] * 5
        runs.append(trial_rows(tmp_path / d, name="digits"))
    assert [r["params"] for r in runs[0]] == [r["params"] for r in runs[1]]
    assert len({json.dumps(r["params"], sort_keys=True) for r in runs[0]}) == 5
    for r in runs[0]:  # validation accuracy per epoch, as reported
        assert len(r["intermediate_values"]) == r["params"]["epochs"] and 0.5 < r["value"] <= 1.0
    attrs = study_attrs(tmp_path / "a", name="digits")
    assert attrs["zoo:optuna_version"] == optuna.__version__
    assert attrs["zoo:settings"]["sampler"]["name"] == "TPESampler" and attrs["zoo:settings"]["sampler"]["seed"] == 3
    assert attrs["zoo:space"]["alpha"]["log"] is True
    files = sorted((tmp_path / "a" / "trials").glob("trial-*.json"))
    assert len(files) == 5 and json.loads(files[0].read_text())["state"] == "COMPLETE"
    # a sweep of more trials resumes the finished one: the first five are kept, three more run
    more = run_worker(tmp_path / "a", name="digits", settings=settings(8), space=space(), objective=digits_objective())
    assert [n for n, _ in more.trials] == [5, 6, 7]


def test_resume_refuses_other_settings(tmp_path):
    from search_support import digits_objective, settings, space
    from zoo.search.optuna_study import run_worker

    run_worker(tmp_path, name="digits", settings=settings(1), space=space(), objective=digits_objective())
    other = parse_space({**__import__("search_support").SPACE, "alpha": {"low": 1e-5, "high": 1e-1, "log": True}})
    with pytest.raises(StudyMismatchError, match="space") as info:
        run_worker(tmp_path, name="digits", settings=settings(2), space=other, objective=digits_objective())
    assert info.value.journal.endswith("optuna-journal.log")
    with pytest.raises(StudyMismatchError, match="settings"):
        run_worker(tmp_path, name="digits", settings=settings(1, pruner="median"), space=space(),
                   objective=digits_objective())


def test_pruned_trials_are_recorded_as_pruned(tmp_path):
    from search_support import digits_objective, space
    from zoo.search.optuna_study import StudySettings, run_worker, trial_rows

    s = StudySettings(trials=10, seed=0, pruner="median", startup_trials=2, max_epochs=4)
    res = run_worker(tmp_path, name="digits", settings=s, space=space(), objective=digits_objective())
    states = dict(res.trials)
    assert "PRUNED" in states.values(), states
    rows = {r["number"]: r for r in trial_rows(tmp_path, name="digits")}
    for n, state in states.items():
        assert rows[n]["state"] == state
        saved = json.loads((tmp_path / "trials" / f"trial-{n:05d}.json").read_text())
        assert saved["state"] == state
        if state == "PRUNED":  # stopped after an epoch's report; Optuna keeps the last reported value
            values = rows[n]["intermediate_values"]
            assert len(values) <= rows[n]["params"]["epochs"] and rows[n]["value"] == values[max(values)]
    assert sum(s == "PRUNED" for s in states.values()) < len(states) - 2  # the start-up trials are never pruned


def test_killed_worker_resumes_from_journal(tmp_path):
    sweep = tmp_path / "sweep"
    proc = _worker(sweep, 6, sleep=0.4)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it while a trial runs, after two have finished
        trials = sorted((sweep / "trials").glob("trial-*.json")) if (sweep / "trials").is_dir() else []
        if len(trials) >= 2:
            break
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _states(sweep)
    assert "RUNNING" in before.values() and 2 <= sum(s == "COMPLETE" for s in before.values()) < 6, before
    resumed = _worker(sweep, 6)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    after = _states(sweep)
    assert sum(s == "COMPLETE" for s in after.values()) == 6  # as many as an uninterrupted sweep of 6
    assert "RUNNING" not in after.values()
    killed = [n for n, s in before.items() if s == "RUNNING"]
    assert all(after[n] == "FAIL" for n in killed)
    assert json.loads((sweep / "trials" / f"trial-{killed[0]:05d}.json").read_text())["user_attrs"]["zoo:failure"]


def test_two_workers_share_one_journal_with_disjoint_trials(tmp_path):
    sweep = tmp_path / "sweep"
    procs = [_worker(sweep, 8, sleep=0.05, name=f"w{i}") for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    ran = [{int(item.split(":")[0]) for item in out.split()} for out, _ in outs]
    assert ran[0].isdisjoint(ran[1]) and ran[0] | ran[1] == set(range(8))
    assert ran[0] and ran[1], "both workers should have run trials"
    from zoo.search.optuna_study import trial_rows

    rows = trial_rows(sweep, name="digits")
    assert len(rows) == 8 and all(r["state"] == "COMPLETE" for r in rows)
    by_worker = {r["number"]: r["user_attrs"]["zoo:worker"]["worker"] for r in rows}
    assert {n for n, w in by_worker.items() if w == "w0"} == ran[0]


def test_hyperband_pruner_follows_the_epoch_budget(tmp_path):
    from search_support import digits_objective, space
    from zoo.search.optuna_study import StudySettings, run_worker, study_attrs

    s = StudySettings(trials=8, seed=1, pruner="hyperband", startup_trials=2, max_epochs=4)
    res = run_worker(tmp_path, name="digits", settings=s, space=space(), objective=digits_objective())
    assert len(res.trials) == 8 and {state for _, state in res.trials} <= {"COMPLETE", "PRUNED"}
    pruner = study_attrs(tmp_path, name="digits")["zoo:settings"]["pruner"]
    assert pruner == {"name": "HyperbandPruner", "min_resource": 1, "max_resource": 4, "reduction_factor": 3}
