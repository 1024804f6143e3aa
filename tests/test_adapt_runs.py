"""Domain adaptation through the runner: [data.target] and [adaptation] in recipes, both scores in
the record, validation-time refusals, and target test labels that cannot change any prediction.
Real data: scikit-learn's digits as 64-value vectors, the target under a named shift."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from test_engine import RECIPE, vector_zoo, write  # noqa: F401  (fixture re-export)
from zoo.errors import AdaptationNeedsError, RecipeError

TARGET = """
[data.target]
loader = "sklearn"

[data.target.options]
name = "digits"
flatten = true
shift = "noise0.3"
test_fraction = 0.5
{adaptation}
"""


def recipe(tmp_path, adaptation: str = "", *, epochs: int = 0):
    text = RECIPE.format(extra=TARGET.format(adaptation=adaptation)).replace("epochs = 4", f"epochs = {epochs}")
    path = tmp_path / "da.toml"
    path.write_text(text, encoding="utf-8")
    return path


SELF_TRAINING = '\n[adaptation]\nname = "self-training"\n\n[adaptation.options]\nrounds = 2\n'


def test_target_scores_source_only_and_adapted_side_by_side(tmp_path, vector_zoo):  # noqa: F811
    from zoo.runner import load_recipe, run_recipe

    rec = run_recipe(load_recipe(recipe(tmp_path, SELF_TRAINING)), progress=False, verbose=False).record
    da = rec["adaptation"]
    assert da["method"] == "self-training" and da["criterion"] == "entropy"
    assert da["options"] == {"rounds": 2, "keep": 0.8}  # defaults recorded
    assert da["target"]["used"]["adapt"]["n"] + da["target"]["used"]["test"]["n"] == 1797
    scores = da["scores"]["logistic-probe"]
    assert set(scores) == {"source_only", "adapted"}
    assert 0.1 < scores["source_only"]["accuracy"] < 1 and 0.1 < scores["adapted"]["accuracy"] < 1
    assert "ci_low" in scores["adapted"] or "accuracy_ci" in scores["adapted"] or len(scores["adapted"]) > 1


def test_target_test_labels_cannot_change_a_prediction(tmp_path, vector_zoo, monkeypatch):  # noqa: F811
    from zoo.runner import adaptation, load_recipe, run_recipe

    path = recipe(tmp_path, SELF_TRAINING)
    clean = run_recipe(load_recipe(path), progress=False, verbose=False).record["adaptation"]
    real_load = adaptation.load_target

    def poisoned(*args, **kwargs):
        target = real_load(*args, **kwargs)
        labels = np.random.default_rng(0).permutation(target.test.labels)
        test = dataclasses.replace(target.test, labels=(labels + 1) % 10)
        return dataclasses.replace(target, test=test)

    monkeypatch.setattr(adaptation, "load_target", poisoned)
    dirty = run_recipe(load_recipe(path), progress=False, verbose=False).record["adaptation"]
    assert dirty["predictions_sha256"] == clean["predictions_sha256"]  # no prediction moved
    assert dirty["scores"] != clean["scores"]  # the poison did reach the final scoring


def test_adaptation_without_a_target_is_refused(tmp_path, vector_zoo):  # noqa: F811
    from zoo.runner import load_recipe

    text = RECIPE.format(extra=SELF_TRAINING).replace("epochs = 4", "epochs = 0")
    path = tmp_path / "r.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AdaptationNeedsError, match="needs an unlabeled target split") as err:
        load_recipe(path)
    assert err.value.missing == ("target_inputs",) and err.value.key == "adaptation.name"


def test_adabn_refuses_a_backbone_without_batchnorm(tmp_path, shared_data):
    from zoo.runner import load_recipe

    path = tmp_path / "r.toml"
    path.write_text(f"""
name = "adabn-minilm"
[backbone]
name = "all-minilm-l6-v2"
[data]
loader = "lines-per-label"
[data.options]
files = ["neg={shared_data}/senteval/MR/rt-polarity.neg", "pos={shared_data}/senteval/MR/rt-polarity.pos"]
encoding = "latin-1"
[data.target]
loader = "lines-per-label"
[data.target.options]
files = ["neg={shared_data}/senteval/CR/custrev.neg", "pos={shared_data}/senteval/CR/custrev.pos"]
test_fraction = 0.5
[adaptation]
name = "adabn"
[[evaluators]]
name = "logistic-probe"
""", encoding="utf-8")
    with pytest.raises(AdaptationNeedsError, match="BatchNorm layers, which architecture 'bert'") as err:
        load_recipe(path)
    assert err.value.missing == ("batchnorm",)


def test_bad_criterion_and_unknown_method_name_the_key(tmp_path, vector_zoo):  # noqa: F811
    from zoo.runner import load_recipe

    with pytest.raises(RecipeError, match="adaptation.criterion"):
        load_recipe(recipe(tmp_path, SELF_TRAINING.replace('name = "self-training"',
                                                           'name = "self-training"\ncriterion = "accuracy"')))
    with pytest.raises(RecipeError, match="self-trainnig"):
        load_recipe(recipe(tmp_path, SELF_TRAINING.replace('"self-training"', '"self-trainnig"')))


def test_adabn_adapts_copies_per_domain_and_keeps_the_backbone(tmp_path, vector_zoo):  # noqa: F811
    import torch

    from zoo.runner import load_recipe
    from zoo.runner.assembly import assemble
    from zoo.runner.stages import execute

    path = recipe(tmp_path, '\n[adaptation]\nname = "adabn"\n').read_text().replace('shift = "noise0.3"',
                                                                                   'shift = "invert"')
    (tmp_path / "adabn.toml").write_text(path, encoding="utf-8")
    assembly = assemble(load_recipe(tmp_path / "adabn.toml"), build_model=False)
    state = execute(assembly, progress=False, verbose=False)
    original = state.backbone.stem[1].running_mean
    assert not torch.equal(state.target_backbone.stem[1].running_mean, original)
    assert not torch.equal(state.source_backbone.stem[1].running_mean, original)
    da = state.record["adaptation"]
    assert da["info"] == {"examples": da["target"]["used"]["adapt"]["n"], "batchnorm_layers": 1}
    scores = da["scores"]["logistic-probe"]
    assert scores["adapted"]["accuracy"] != scores["source_only"]["accuracy"]


def test_a_third_party_method_from_the_plugin_template_runs_from_a_recipe(tmp_path, vector_zoo):  # noqa: F811
    import sys

    from zoo.runner import load_recipe, run_recipe

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]
                           / "plugins" / "zoo-plugin-template" / "src"))
    try:
        import zoo_plugin_template

        vector_zoo.register(zoo_plugin_template, name="test-observer")
        path = recipe(tmp_path, '\n[adaptation]\nname = "template-centering"\n\n[adaptation.options]\nscale = true\n')
        rec = run_recipe(load_recipe(path), progress=False, verbose=False).record
    finally:
        sys.path.pop(0)
    da = rec["adaptation"]
    assert da["method"] == "template-centering" and da["options"] == {"scale": True}
    assert set(da["scores"]["logistic-probe"]) == {"source_only", "adapted"}


def test_an_adaptation_sweep_chooses_by_the_label_free_criterion(tmp_path, vector_zoo):  # noqa: F811
    import json

    from zoo.runner import load_recipe
    from zoo.runner.sweep import run_sweep

    sweep = '\n[sweep]\nmethod = "grid"\n\n[sweep.params]\n"adaptation.options.keep" = [0.5, 1.0]\n'
    path = recipe(tmp_path, SELF_TRAINING + sweep)
    result = run_sweep(load_recipe(path), progress=False, verbose=False)
    assert result.metric == "adaptation.entropy"
    records = [json.loads((t.run_dir / "record.json").read_text()) for t in result.trials]
    scores = [r["adaptation"]["selection"]["score"] for r in records]
    assert all(r["adaptation"]["selection"]["criterion"] == "entropy" for r in records)
    assert result.best.run_dir == result.trials[scores.index(max(scores))].run_dir


def test_a_method_that_needs_source_data_refuses_a_source_free_recipe(tmp_path, vector_zoo):  # noqa: F811
    from zoo.runner import load_recipe

    free = SELF_TRAINING.replace('name = "self-training"', 'name = "self-training"\nsource_data = false')
    with pytest.raises(AdaptationNeedsError, match="needs labeled source data while adapting") as err:
        load_recipe(recipe(tmp_path, free))
    assert err.value.missing == ("source_labels",)
    # AdaBN needs no source data: the same recipe shape with adabn validates
    assert load_recipe(recipe(tmp_path, '\n[adaptation]\nname = "adabn"\nsource_data = false\n')).adaptation.source_data \
        is False


def test_evaluator_sweep_is_chosen_on_source_and_used_for_both_target_scores(tmp_path, vector_zoo):  # noqa: F811
    from zoo.runner import load_recipe, run_recipe

    def run(grid: str) -> dict:
        path = recipe(tmp_path, SELF_TRAINING)
        path.write_text(path.read_text(encoding="utf-8") + grid, encoding="utf-8")
        return run_recipe(load_recipe(path), progress=False, verbose=False).record["adaptation"]

    plain = run("")
    assert "evaluator_selection" not in plain
    # one candidate, a crippling C: both target scores use it (near chance on 10 classes)
    crippled = run("\n[evaluators.options]\nc_grid = [1e-6]\n")
    assert crippled["evaluator_selection"]["logistic-probe"]["selected"] == {"C": 1e-6}
    assert all(s["accuracy"] < 0.25 for s in crippled["scores"]["logistic-probe"].values())
    assert all(s["accuracy"] > 0.4 for s in plain["scores"]["logistic-probe"].values())
    # the source split chooses C = 1 over 1e-6: the same predictions as the plain run
    chosen = run("\n[evaluators.options]\nc_grid = [1e-6, 1.0]\n")
    selection = chosen["evaluator_selection"]["logistic-probe"]
    assert selection["selected"] == {"C": 1.0} and "target" not in selection["selected_on"]
    assert chosen["predictions_sha256"]["logistic-probe"] == plain["predictions_sha256"]["logistic-probe"]
