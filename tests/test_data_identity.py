"""Data identity is content, not spelling: fingerprints, the feature cache and leaderboards ignore how a path is written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from zoo.data import CsvOptions
from zoo.data.text import load_csv

RECIPE = """\
name = "identity-probe"
seed = 3
device = "cpu"
output_dir = "{out}"

[backbone]
name = "all-minilm-l6-v2"
batch_size = 32
max_seq_length = 32

[data]
loader = "csv"
max_train = 60
max_test = 40

[data.options]
train = "{data}/train.csv"
test = "{data}/test.csv"
label_column = "category"
label_names = "{data}/categories.json"

[training]
epochs = 0

[[evaluators]]
name = "logistic-probe"
"""


def test_fingerprint_ignores_how_paths_are_written_but_not_what_is_read(tmp_path, shared_data):
    data = shared_data / "banking77"
    opts = dict(test="test.csv", label_column="category", label_names="categories.json")
    relative = load_csv(CsvOptions(train="train.csv", **opts), base_dir=data, seed=0)
    absolute = load_csv(CsvOptions(train=str(data / "train.csv"), **{k: str(data / v) if k != "label_column" else v
                                                                      for k, v in opts.items()}),
                        base_dir=tmp_path, seed=0)
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    (tmp_path / "link").symlink_to(copy)
    through_link = load_csv(CsvOptions(train="link/train.csv", test="link/test.csv", label_column="category",
                                       label_names="link/categories.json"), base_dir=tmp_path, seed=0)
    assert relative.fingerprint == absolute.fingerprint == through_link.fingerprint
    assert relative.train.fingerprint == absolute.train.fingerprint == through_link.train.fingerprint
    # options that change what is read still count, and so do the roles the files play
    swapped = load_csv(CsvOptions(train="test.csv", test="train.csv", label_column="category",
                                  label_names="categories.json"), base_dir=data, seed=0)
    assert swapped.fingerprint != relative.fingerprint
    latin = load_csv(CsvOptions(train="train.csv", encoding="latin-1", **opts), base_dir=data, seed=0)
    assert latin.fingerprint != relative.fingerprint


@pytest.mark.slow
def test_same_probe_by_relative_and_absolute_path_reads_the_cache_and_shares_a_leaderboard(
        tmp_path, shared_data, warm_cache):
    from zoo.catalog.runs import leaderboards, normalize_record
    from zoo.runner import load_recipe, run_recipe

    data = shared_data / "banking77"
    out = tmp_path / "runs"
    rel_dir, abs_dir = tmp_path / "a" / "b", tmp_path / "c"
    rel_dir.mkdir(parents=True)
    abs_dir.mkdir()
    (rel_dir / "recipe.toml").write_text(RECIPE.format(out=out, data=os.path.relpath(data, rel_dir)))
    (abs_dir / "recipe.toml").write_text(RECIPE.format(out=out, data=data.resolve()))
    assert not Path(os.path.relpath(data, rel_dir)).is_absolute()

    first = run_recipe(load_recipe(rel_dir / "recipe.toml"), progress=False, verbose=False).record
    second = run_recipe(load_recipe(abs_dir / "recipe.toml"), progress=False, verbose=False).record
    assert first["feature_cache"]["misses"] >= 2
    assert second["feature_cache"]["misses"] == 0 and second["feature_cache"]["hits"] >= 2
    assert first["dataset"]["fingerprint"] == second["dataset"]["fingerprint"]
    assert second["metrics"] == first["metrics"]

    boards = leaderboards([normalize_record(first), normalize_record(second)])
    (board,) = boards  # one board per (task, evaluator, protocol, options): both runs are on it
    rows = board["rows"]
    assert {r["run_id"] for r in rows} == {first["run_id"], second["run_id"]}
    assert len({r["fingerprint"] for r in rows}) == 1
