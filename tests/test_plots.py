"""Report plots (zoo.plots): readable confusion matrices, most confused pairs, tables only without matplotlib."""

from __future__ import annotations

import random

import pytest

from zoo import plots


def _matrix(n: int, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)
    return [[(40 if i == j else rng.choice([0, 0, 0, 1, 2])) for j in range(n)] for i in range(n)]


def test_most_confused_pairs_are_the_largest_off_diagonal_cells():
    m = [[5, 3, 0], [1, 6, 4], [0, 0, 9]]
    pairs = plots.most_confused_pairs(m, ["a", "b", "c"], k=2)
    assert [(p["true"], p["predicted"], p["count"]) for p in pairs] == [("b", "c", 4), ("a", "b", 3)]
    assert pairs[0]["rate"] == pytest.approx(4 / 11)
    assert plots.most_confused_pairs([[3]], ["only"]) == []


@pytest.mark.skipif(not plots.available(), reason='matplotlib is not installed: pip install -e ".[catalog]"')
def test_a_77_class_confusion_matrix_is_small_labelled_and_has_a_colour_bar(tmp_path):
    labels = [f"intent_{i}" for i in range(77)]
    path = plots.confusion_plot(_matrix(77), labels, tmp_path / "confusion.svg", title="head")
    svg = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 200_000, path.stat().st_size  # the hand-built SVG was 816 KB
    for text in ("predicted label (class index, 0 to 76)", "true label (class index, 0 to 76)",
                 "share of the true class", "Confusion matrix (head), row-normalized"):
        assert text in svg, text
    small = plots.confusion_plot(_matrix(5), ["card", "atm", "fee", "pin", "topup"], tmp_path / "small.svg")
    text = small.read_text(encoding="utf-8")
    assert all(name in text for name in ("card", "topup", "predicted label", "true label", "share of the true class"))


@pytest.mark.skipif(not plots.available(), reason='matplotlib is not installed: pip install -e ".[catalog]"')
def test_report_plots_draw_and_list_pairs_above_20_classes(tmp_path):
    record = {"training": {"history": [{"epoch": 0, "train_loss": 1.0, "val_loss": 0.9, "val_accuracy": 0.5},
                                       {"epoch": 1, "train_loss": 0.5, "val_loss": 0.6, "val_accuracy": 0.7}]}}
    labels = [f"c{i}" for i in range(25)]
    out = plots.report_plots(tmp_path, record, confusions={"head": _matrix(25)}, label_names=labels)
    assert (tmp_path / "learning_curve.svg").is_file() and (tmp_path / "confusion.svg").is_file()
    assert out["learning_curve"] == ["![learning curve](learning_curve.svg)", ""]
    assert "![confusion matrix](confusion.svg)" in out["confusion"] and "Most confused pairs:" in out["confusion"]
    few = plots.report_plots(tmp_path / "few", {}, confusions={"head": _matrix(3)}, label_names=["a", "b", "c"])
    assert "Most confused pairs:" not in few["confusion"]  # named on the axes instead


def test_without_matplotlib_the_report_has_tables_only(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "available", lambda: False)
    record = {"training": {"history": [{"epoch": 0, "train_loss": 1.0}]}}
    out = plots.report_plots(tmp_path, record, confusions={"head": [[3, 1], [2, 4]]}, label_names=["x|y", "z"])
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert out["learning_curve"] == [] and out["tradeoffs"] == []
    assert "| x\\|y | z | 1 | 25.0% |" in out["confusion"] and "| z | x\\|y | 2 | 33.3% |" in out["confusion"]
