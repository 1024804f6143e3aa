"""``--executor ray``: a small Optuna sweep through Ray Tune on a local two-CPU cluster the test starts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from zoo.errors import MissingExtraError


def test_without_ray_the_option_says_how_to_install_it(monkeypatch):
    from zoo.search.ray_exec import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'transferzoo\[ray\]'") as info:
        require_ray()
    assert info.value.extra == "ray" and isinstance(info.value, ImportError)


@pytest.mark.slow
def test_ray_executor_runs_a_small_sweep_on_a_local_two_cpu_cluster(tmp_path, shared_data, warm_cache):
    ray = pytest.importorskip("ray", reason="Ray is not installed; `make test` installs it "
                                            "(pip install 'transferzoo[ray]')")
    pytest.importorskip("optuna", reason="Optuna is not installed (pip install 'transferzoo[ray]')")
    from test_search_runs import write

    from zoo.runner import load_recipe
    from zoo.search.ray_exec import run_ray_sweep

    recipe = load_recipe(write(tmp_path, shared_data, trials=3))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert ray.cluster_resources()["CPU"] == 2
        result = run_ray_sweep(recipe, sweep_dir=tmp_path / "sweep", cpus_per_trial=1, verbose=False)
    finally:
        ray.shutdown()
    summary = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert summary["method"] == "ray" and summary["ray_version"] == ray.__version__
    assert summary["settings"]["pruner"]["name"] == "ASHAScheduler"
    assert summary["settings"]["resources_per_trial"] == {"cpu": 1, "gpu": 0.0}
    assert len(result.trials) == 3 and {t["state"] for t in result.trials} <= {"COMPLETE", "PRUNED"}
    assert len({t["ray_trial_id"] for t in result.trials}) == 3
    complete = [t for t in result.trials if t["state"] == "COMPLETE"]
    assert complete and result.best is not None
    for t in result.trials:
        run = Path(t["run_dir"])
        assert set(t["params"]) == {"training.lr", "training.epochs", "head.options.bias"}
        if t["state"] == "COMPLETE":  # an ordinary recorded run, its epochs reported to Ray
            rec = json.loads((run / "record.json").read_text())
            history = [h["val_accuracy"] for h in rec["training"]["history"]]
            assert history == pytest.approx([t["intermediate_values"][str(i)] for i in range(len(history))])
            assert t["value"] == rec["metrics"]["head"]["val_accuracy"]
        else:
            assert run.name.endswith(".pruned") and not (run / "record.json").exists()
    assert (tmp_path / "sweep" / "report.md").is_file()
