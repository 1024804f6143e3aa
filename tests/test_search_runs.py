"""``[sweep] method = "optuna"`` end to end: real recipes (Banking77 subsets, all-MiniLM-L6-v2 features).

The backbone stays frozen, so every trial after the first reads its features from the cache and
trains a linear head for a few epochs: a few seconds a trial.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("optuna", reason="the optuna extra is not installed: pip install 'transferzoo[optuna]'")

RECIPE = """\
name = "search-banking"
seed = 3
output_dir = "runs"

[backbone]
name = "all-minilm-l6-v2"
batch_size = 64
max_seq_length = 32

[data]
loader = "csv"
max_train = 160
max_validation = 80
max_test = 40

[data.options]
train = "{data}/banking77/train.csv"
test = "{data}/banking77/test.csv"
label_column = "category"
label_names = "{data}/banking77/categories.json"
validation_fraction = 0.1

[head]
name = "linear"

[training]
epochs = 3
batch_size = 32

[sweep]
method = "optuna"
trials = {trials}
seed = 11
pruner = "{pruner}"
startup_trials = 2

[sweep.params]
"training.lr" = {{ low = 1e-3, high = 0.3, log = true }}
"training.epochs" = {{ low = 1, high = 3 }}
"head.options.bias" = [true, false]
"""


def write(tmp_path: Path, shared_data: Path, *, trials: int, pruner: str = "none") -> Path:
    path = tmp_path / "search.toml"
    path.write_text(RECIPE.format(data=shared_data, trials=trials, pruner=pruner), encoding="utf-8")
    return path


def cli(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "zoo", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def rows(sweep: Path) -> list[dict]:
    from zoo.search.optuna_study import trial_rows

    return trial_rows(sweep, name="search-banking")


def test_space_values_are_checked_against_the_recipe(tmp_path, shared_data):
    from zoo.errors import RecipeError, SearchSpaceError
    from zoo.runner import load_recipe
    from zoo.search.optuna_sweep import recipe_space

    path = write(tmp_path, shared_data, trials=2)
    path.write_text(path.read_text().replace('"training.epochs" = { low = 1, high = 3 }',
                                             '"training.warmup_ratio" = { low = 0.0, high = 1.5 }'))
    with pytest.raises(SearchSpaceError, match="warmup_ratio.*1.5.*refuses") as info:
        recipe_space(load_recipe(path))
    assert info.value.key == "sweep.params.training.warmup_ratio"
    path.write_text(path.read_text().replace('method = "optuna"', 'method = "grid"'))
    with pytest.raises(RecipeError, match="needs method = \"optuna\"") as info:
        load_recipe(path)
    assert info.value.key == "sweep.params.training.lr"


@pytest.mark.slow
def test_optuna_sweep_records_trials_report_and_best_reproduces(tmp_path, shared_data, warm_cache, capsys):
    from zoo.cli.main import main
    from zoo.runner.reproduce import reproduce

    recipe = write(tmp_path, shared_data, trials=6, pruner="median")
    assert main(["run", str(recipe), "--quiet", "--sweep-dir", str(tmp_path / "sweep")]) == 0
    out = capsys.readouterr().out
    sweep = tmp_path / "sweep"
    summary = json.loads((sweep / "sweep.json").read_text())
    assert summary["method"] == "optuna" and len(summary["trials"]) == 6
    assert summary["settings"]["sampler"] == {"name": "TPESampler", "seed": 11, "seed_of_trial": "seed + trial number",
                                              "n_startup_trials": 2, "n_ei_candidates": 24, "multivariate": False,
                                              "constant_liar": True}
    assert summary["settings"]["pruner"]["name"] == "MedianPruner"
    import optuna

    assert summary["optuna_version"] == optuna.__version__
    states = {t["number"]: t["state"] for t in summary["trials"]}
    assert set(states.values()) <= {"COMPLETE", "PRUNED"}
    for t in summary["trials"]:
        run = Path(t["run_dir"])
        if t["state"] == "COMPLETE":  # an ordinary recorded run
            rec = json.loads((run / "record.json").read_text())
            assert rec["training"]["history"][0]["val_accuracy"] == pytest.approx(t["intermediate_values"]["0"])
            assert len(rec["training"]["history"]) == t["params"]["training.epochs"]
        else:  # pruned: never looks complete
            assert run.name.endswith(".pruned") and not (run / "record.json").exists()
            assert "TrialPruned" in json.loads((run / "stopped.json").read_text())["reason"]
    assert not list((sweep / "runs").glob("*.partial"))
    best = summary["trials"][summary["best"]]
    assert best["value"] == max(t["value"] for t in summary["trials"] if t["state"] == "COMPLETE")
    report = (sweep / "report.md").read_text()
    assert "![optimization history](history.svg)" in report and (sweep / "history.svg").read_text().startswith("<svg")
    assert set(summary["importances"]) == {"training.lr", "training.epochs", "head.options.bias"}
    assert (sweep / "importances.svg").is_file()
    assert f"best (chosen on validation only): trial {best['number']}" in out
    again = reproduce(best["run_dir"], output_dir=tmp_path / "again", progress=False, verbose=False)
    assert again.identical, again.format()


@pytest.mark.slow
def test_sigkilled_sweep_resumes_from_its_journal(tmp_path, shared_data, warm_cache):
    from zoo.search.optuna_sweep import run_optuna_sweep
    from zoo.runner import load_recipe

    recipe = write(tmp_path, shared_data, trials=4)
    plain = run_optuna_sweep(load_recipe(recipe), sweep_dir=tmp_path / "plain", progress=False, verbose=False)

    sweep = tmp_path / "killed"
    proc = cli("run", str(recipe), "--quiet", "--sweep-dir", str(sweep), cwd=tmp_path)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:  # kill it during its third trial
        if len(list((sweep / "trials").glob("trial-*.json"))) >= 2 and list((sweep / "runs").glob("*.partial")):
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[1]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {r["number"]: r["state"] for r in rows(sweep)}
    assert list(before.values()).count("COMPLETE") == 2 and "RUNNING" in before.values(), before
    assert not (sweep / "sweep.json").exists()

    resumed = cli("run", str(recipe), "--quiet", "--sweep-dir", str(sweep), cwd=tmp_path)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    after = rows(sweep)
    complete = [r for r in after if r["state"] == "COMPLETE"]
    plain_complete = [t for t in plain.trials if t["state"] == "COMPLETE"]
    assert len(complete) == len(plain_complete) == 4  # the same count as the uninterrupted sweep
    # the trials before the kill drew the same values as the uninterrupted sweep (seed + trial number)
    assert [r["params"] for r in after[:2]] == [t["params"] for t in plain.trials[:2]]
    killed = [r for r in after if r["state"] == "FAIL"]
    assert len(killed) == 1 and "died" in killed[0]["user_attrs"]["zoo:failure"]
    partial = list((sweep / "runs").glob("*.partial"))  # the killed trial's run: visibly incomplete
    assert len(partial) == 1 and not (partial[0] / "record.json").exists()
    done = [p for p in (sweep / "runs").iterdir() if (p / "record.json").is_file() and "." not in p.name[-8:]]
    assert len(done) == 4
    assert json.loads((sweep / "sweep.json").read_text())["best"] is not None


@pytest.mark.slow
def test_two_worker_processes_share_one_journal(tmp_path, shared_data, warm_cache):
    recipe = write(tmp_path, shared_data, trials=6)
    proc = cli("run", str(recipe), "--workers", "2", "--sweep-dir", str(tmp_path / "sweep"), cwd=tmp_path)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    trials = rows(tmp_path / "sweep")
    assert len(trials) == 6 and all(t["state"] == "COMPLETE" for t in trials)
    owners = {}
    for t in trials:
        owners.setdefault(t["user_attrs"]["zoo:worker"]["pid"], set()).add(t["number"])
    assert len(owners) == 2, owners  # two processes ran trials ...
    a, b = owners.values()
    assert a.isdisjoint(b) and a | b == set(range(6))  # ... and no trial twice
    run_dirs = {t["user_attrs"]["zoo:run_dir"] for t in trials}
    assert len(run_dirs) == 6 and all((Path(d) / "record.json").is_file() for d in run_dirs)
    assert "best (chosen on validation only)" in out
