"""Progress of long work: a tqdm bar on a terminal, a plain line now and then otherwise, nothing with --quiet."""

from __future__ import annotations

import io

import pytest

from zoo._progress import is_enabled, progress, progress_enabled
from zoo.cli.main import main


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_off_by_default_and_scoped():
    items = [1, 2, 3]
    assert progress(items, desc="x") is items and not is_enabled()
    with progress_enabled():
        assert is_enabled()
        with progress_enabled(False):
            assert progress(items, desc="x") is items
    assert not is_enabled()


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    with progress_enabled():
        assert list(progress(range(5), desc="encode", unit="batch", stream=out, every=0.0)) == [0, 1, 2, 3, 4]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("encode: 1/5 (20%) batch, ") and "batch/s" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("encode: 5/5 (100%) batch, ") and "ETA" not in lines[-1]
    assert len(lines) == 5  # every item at every=0, the last line once
    quiet = io.StringIO()
    with progress_enabled():
        list(progress(range(5), desc="encode", stream=quiet, every=3600.0))
    assert len(quiet.getvalue().splitlines()) == 1  # only the final line within the interval


def test_a_tqdm_bar_with_rate_and_eta_on_a_terminal():
    import time

    def slow():
        for i in range(3):
            time.sleep(0.15)  # longer than tqdm's refresh interval
            yield i

    out = Terminal()
    assert list(progress(slow(), desc="pull", total=3, unit="backbone", stream=out, enabled=True)) == [0, 1, 2]
    text = out.getvalue()
    assert "pull:" in text and "3/3" in text and "backbone/s" in text and "<" in text  # elapsed<remaining


@pytest.mark.slow
def test_zoo_run_shows_encoding_progress_unless_quiet(capsys, tmp_path, shared_data, warm_cache):
    data = shared_data / "banking77"
    recipe = tmp_path / "r.toml"
    recipe.write_text(f"""name = "progress"
device = "cpu"
[backbone]
name = "all-minilm-l6-v2"
max_seq_length = 32
[data]
loader = "csv"
max_train = 40
max_test = 20
[data.options]
train = "{data}/train.csv"
test = "{data}/test.csv"
label_column = "category"
[training]
epochs = 0
[[evaluators]]
name = "logistic-probe"
""")
    assert main(["run", str(recipe), "-o", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "encode: 1/1 (100%) batch, " in err, err  # 40 texts in one batch of 64, as a line (not a terminal)
    assert main(["run", str(recipe), "-o", str(tmp_path / "b"), "-s", "seed=1", "--quiet"]) == 0
    assert "encode:" not in capsys.readouterr().err
