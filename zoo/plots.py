"""Report plots drawn with matplotlib (the optional extra ``transferzoo[catalog]``).

The run report (:mod:`zoo.runner.report`) and the catalog's run pages draw the same figures:
the learning curve, the confusion matrix (labelled axes and a colour bar) and the compression
trade-offs. Above :data:`MAX_LABELLED_CLASSES` classes the matrix keeps its colour bar but its
ticks are class indices, and a "most confused pairs" table (:func:`most_confused_pairs`,
standard library only) names the classes instead. Without matplotlib nothing is drawn and the
report has tables only (:func:`available` says which).

Figures are built on :class:`matplotlib.figure.Figure` (no ``pyplot`` global state), rendered
to memory and written atomically; ``.svg`` and ``.png`` are chosen by the file name.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping, Sequence

from ._atomic import write_bytes_atomic

__all__ = ["available", "MAX_LABELLED_CLASSES", "most_confused_pairs", "learning_curve_plot",
           "confusion_plot", "tradeoff_plot", "report_plots"]

MAX_LABELLED_CLASSES = 20
"""Up to this many classes the confusion matrix names every class on its axes."""


def available() -> bool:
    """Whether matplotlib can be imported (the ``catalog`` extra is installed)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fmt = Path(path).suffix.lstrip(".").lower() or "svg"
    # no creation date in the file: two runs of one recipe write identical plots
    metadata = {"Date": None} if fmt == "svg" else {}
    fig.savefig(buf, format=fmt, metadata=metadata)
    write_bytes_atomic(path, buf.getvalue())
    return Path(path)


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _name(labels: Sequence[Any], i: int) -> str:
    return str(labels[i]) if i < len(labels) else str(i)


def most_confused_pairs(matrix: Sequence[Sequence[int]], labels: Sequence[Any] = (), *,
                        k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` largest off-diagonal cells: true and predicted class, count, share of the true class.

    Sorted by count, then by share; ties keep matrix order. Rows are true labels.
    """
    pairs = []
    for i, row in enumerate(matrix):
        total = sum(row)
        for j, count in enumerate(row):
            if i != j and count > 0:
                pairs.append({"true": _name(labels, i), "predicted": _name(labels, j), "count": int(count),
                              "rate": count / total if total else 0.0, "true_index": i, "predicted_index": j})
    pairs.sort(key=lambda p: (-p["count"], -p["rate"]))
    return pairs[:k]


def learning_curve_plot(history: Sequence[Mapping[str, float]], path: Path) -> Path:
    """Train and validation loss (left axis) and validation accuracy (right axis) per epoch."""
    fig = _figure(6.0, 3.4)
    ax = fig.add_subplot()
    epochs = [int(h.get("epoch", i)) + 1 for i, h in enumerate(history)]
    lines = []
    for key, style in (("train_loss", "-o"), ("val_loss", "-s")):
        pts = [(e, h[key]) for e, h in zip(epochs, history) if isinstance(h.get(key), (int, float))]
        if pts:
            lines += ax.plot(*zip(*pts), style, label=key.replace("_", " "), markersize=4)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    acc = [(e, h["val_accuracy"]) for e, h in zip(epochs, history) if isinstance(h.get("val_accuracy"), (int, float))]
    if acc:
        ax2 = ax.twinx()
        lines += ax2.plot(*zip(*acc), "-^", color="tab:green", label="validation accuracy", markersize=4)
        ax2.set_ylabel("accuracy")
        ax2.set_ylim(0, 1)
    if lines:
        ax.legend(lines, [ln.get_label() for ln in lines], loc="best", fontsize="small")
    ax.set_xticks(epochs)
    ax.set_title("Learning curve")
    return _save(fig, path)


def confusion_plot(matrix: Sequence[Sequence[int]], labels: Sequence[Any], path: Path, *, title: str = "") -> Path:
    """A row-normalized confusion matrix: true label down, predicted label across, a colour bar.

    Up to :data:`MAX_LABELLED_CLASSES` classes every tick is named; above, ticks are class indices
    (the report lists the most confused pairs by name).
    """
    import numpy as np

    m = np.asarray(matrix, dtype=float)
    n = m.shape[0]
    totals = m.sum(axis=1, keepdims=True)
    norm = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    named = n <= MAX_LABELLED_CLASSES
    side = 3.0 + 0.35 * n if named else 7.5
    fig = _figure(side + 1.5, side)
    ax = fig.add_subplot()
    image = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("share of the true class")
    if named:
        names = [_name(labels, i)[:24] for i in range(n)]
        ax.set_xticks(range(n), names, rotation=60, ha="right", fontsize="small")
        ax.set_yticks(range(n), names, fontsize="small")
        for i in range(n):
            for j in range(n):
                if m[i, j]:
                    ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize="x-small",
                            color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xlabel("predicted label")
        ax.set_ylabel("true label")
    else:
        ax.set_xlabel(f"predicted label (class index, 0 to {n - 1})")
        ax.set_ylabel(f"true label (class index, 0 to {n - 1})")
    ax.set_title(f"Confusion matrix{f' ({title})' if title else ''}, row-normalized")
    return _save(fig, path)


def tradeoff_plot(rows: Sequence[Mapping[str, Any]], path: Path, *, x_key: str, x_label: str) -> Path:
    """Accuracy (percent) against ``x_key`` (size or latency) for each compression step."""
    fig = _figure(5.0, 3.4)
    ax = fig.add_subplot()
    pts = [(float(r[x_key]), float(r["metric"]) * 100, str(r.get("label") or r.get("pass_name") or ""))
           for r in rows if r.get("metric") is not None and r.get(x_key) is not None]
    if pts:
        xs, ys, names = zip(*pts)
        ax.plot(xs, ys, "o")
        for x, y, name in pts:
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize="small")
    ax.set_xlabel(x_label)
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def report_plots(run_dir: Path, record: Mapping[str, Any], *, confusions: Mapping[str, Any],
                 label_names: Sequence[str]) -> dict[str, list[str]]:
    """Draw the run's plots into ``run_dir``; returns Markdown lines per report section.

    Sections: ``learning_curve``, ``confusion`` and ``tradeoffs``. Without matplotlib the
    learning curve and trade-off plots are left out and the confusion section is the table of
    most confused pairs only.
    """
    run_dir = Path(run_dir)
    out: dict[str, list[str]] = {"learning_curve": [], "confusion": [], "tradeoffs": []}
    can_draw = available()
    history = (record.get("training") or {}).get("history") or []
    if history and can_draw:
        learning_curve_plot(history, run_dir / "learning_curve.svg")
        out["learning_curve"] = ["![learning curve](learning_curve.svg)", ""]
    if confusions:
        name = "head" if "head" in confusions else next(iter(confusions))
        matrix = confusions[name]
        lines = []
        if can_draw:
            confusion_plot(matrix, label_names, run_dir / "confusion.svg", title=name)
            lines += ["![confusion matrix](confusion.svg)", ""]
        if len(matrix) > MAX_LABELLED_CLASSES or not can_draw:
            pairs = most_confused_pairs(matrix, label_names)
            lines += ["Most confused pairs:", "", "| true | predicted as | count | share of true |",
                      "|---|---|---|---|"]
            lines += [f"| {_cell(p['true'])} | {_cell(p['predicted'])} | {p['count']} | {p['rate']:.1%} |" for p in pairs]
            lines.append("")
        out["confusion"] = lines
    tradeoffs = (record.get("compression") or {}).get("tradeoffs") or []
    if can_draw and any(r.get("metric") is not None for r in tradeoffs):
        rows = [{**r, "size_mb": r["size_bytes"] / 1e6} for r in tradeoffs]
        tradeoff_plot(rows, run_dir / "tradeoff_size.svg", x_key="size_mb", x_label="size on disk (MB)")
        tradeoff_plot(rows, run_dir / "tradeoff_latency.svg", x_key="latency_ms",
                      x_label="CPU latency per batch (ms)")
        out["tradeoffs"] = ["", "![accuracy against size](tradeoff_size.svg) "
                                "![accuracy against latency](tradeoff_latency.svg)"]
    return out
