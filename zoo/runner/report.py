"""The short Markdown report of a run, with hand-written SVG plots (no plotting library).

``report.md`` summarizes the metrics; ``learning_curve.svg`` shows train and validation loss
and validation accuracy per epoch; ``confusion.svg`` shows the confusion matrix of the head
(or of the first evaluator when no head was trained).
"""

from __future__ import annotations

import html

from html import escape
from pathlib import Path
from typing import Any, Mapping, Sequence

from .._atomic import write_text_atomic

__all__ = ["write_report", "learning_curve_svg", "confusion_svg"]

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")


def _polyline(points: Sequence[tuple[float, float]], color: str) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in points)
    return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>{dots}'


def learning_curve_svg(history: Sequence[Mapping[str, float]], *, width: int = 560, height: int = 300) -> str:
    """Losses (left axis) and validation accuracy (right axis, 0..1) per epoch."""
    left, right, top, bottom = 50, 50, 30, 40
    pw, ph = width - left - right, height - top - bottom
    epochs = [int(h["epoch"]) + 1 for h in history]
    n = max(len(epochs), 1)
    losses = [h[k] for h in history for k in ("train_loss", "val_loss") if k in h]
    lmax = max(losses) * 1.05 if losses else 1.0

    def x(i: int) -> float:
        return left + (pw * (i / (n - 1)) if n > 1 else pw / 2)

    def y_loss(v: float) -> float:
        return top + ph * (1 - v / lmax)

    def y_acc(v: float) -> float:
        return top + ph * (1 - v)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for t in range(5):
        frac = t / 4
        yy = top + ph * (1 - frac)
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{lmax * frac:.2f}</text>')
        parts.append(f'<text x="{left + pw + 6}" y="{yy + 4:.1f}">{frac:.2f}</text>')
    for i, e in enumerate(epochs):
        parts.append(f'<text x="{x(i):.1f}" y="{top + ph + 16}" text-anchor="middle">{e}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle">epoch</text>')
    parts.append(f'<text x="14" y="{top + ph / 2}" transform="rotate(-90 14 {top + ph / 2})" text-anchor="middle">loss</text>')
    parts.append(f'<text x="{width - 10}" y="{top + ph / 2}" transform="rotate(90 {width - 10} {top + ph / 2})" '
                 f'text-anchor="middle">accuracy</text>')
    series = [("train_loss", y_loss), ("val_loss", y_loss), ("val_accuracy", y_acc)]
    legend_x = left + 8
    for (key, scale), color in zip(series, _COLORS):
        pts = [(x(i), scale(h[key])) for i, h in enumerate(history) if key in h]
        if not pts:
            continue
        parts.append(_polyline(pts, color))
        parts.append(f'<rect x="{legend_x}" y="10" width="10" height="10" fill="{color}"/>'
                     f'<text x="{legend_x + 14}" y="19">{key}</text>')
        legend_x += 110
    if not history:
        parts.append(f'<text x="{left + pw / 2}" y="{top + ph / 2}" text-anchor="middle">no training epochs</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def confusion_svg(matrix: Sequence[Sequence[int]], label_names: Sequence[str], *, title: str = "") -> str:
    """A row-normalized confusion matrix as a heat map (rows: true label, columns: predicted)."""
    n = len(matrix)
    cell = max(4, min(40, 600 // max(n, 1)))
    show_labels = cell >= 10
    margin = 120 if show_labels else 40
    size = margin + cell * n + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size + 20}" '
             f'font-family="sans-serif" font-size="{min(11, max(cell - 2, 6))}">',
             f'<rect width="{size}" height="{size + 20}" fill="white"/>',
             f'<text x="{margin}" y="14">{escape(title)} (rows: true, columns: predicted; row-normalized)</text>']
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, count in enumerate(row):
            v = count / total
            shade = int(255 * (1 - v))
            color = f"rgb({shade},{shade},255)" if i != j else f"rgb({shade},{int(255 - 100 * v)},{shade})"
            parts.append(f'<rect x="{margin + j * cell}" y="{margin + i * cell}" width="{cell}" height="{cell}" '
                         f'fill="{color}"><title>{escape(str(label_names[i]) if i < len(label_names) else str(i))} '
                         f'-> {escape(str(label_names[j]) if j < len(label_names) else str(j))}: {count}</title></rect>')
        if show_labels and i < len(label_names):
            name = escape(str(label_names[i])[:18])
            parts.append(f'<text x="{margin - 4}" y="{margin + i * cell + cell * 0.75:.1f}" text-anchor="end">{name}</text>')
            cx = margin + i * cell + cell * 0.75
            parts.append(f'<text x="{cx:.1f}" y="{margin - 4}" transform="rotate(-90 {cx:.1f} {margin - 4})">{name}</text>')
    parts.append(f'<rect x="{margin}" y="{margin}" width="{cell * n}" height="{cell * n}" fill="none" stroke="#666"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def tradeoff_svg(rows: Sequence[Mapping[str, Any]], *, x_key: str, x_label: str, width: int = 420,
                 height: int = 280) -> str:
    """Accuracy (y) against ``x_key`` (size or latency) for each compression step, as an SVG scatter."""
    pts = [(float(r[x_key]), float(r["metric"]) * 100, str(r.get("label") or r.get("pass_name")))
           for r in rows if r.get("metric") is not None and r.get(x_key)]
    m = 46
    if not pts:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"></svg>'
    x0, x1 = 0.0, max(p[0] for p in pts) * 1.1
    y0, y1 = min(p[1] for p in pts) - 2, max(p[1] for p in pts) + 2

    def sx(v: float) -> float:
        return m + (v - x0) / (x1 - x0 or 1) * (width - 2 * m)

    def sy(v: float) -> float:
        return height - m - (v - y0) / (y1 - y0 or 1) * (height - 2 * m)

    marks = "".join(
        f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="#1f77b4"/>'
        f'<text x="{sx(x) + 6:.1f}" y="{sy(y) - 6:.1f}" font-size="10">{html.escape(label)}</text>'
        for x, y, label in pts)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">'
            f'<line x1="{m}" y1="{height - m}" x2="{width - m}" y2="{height - m}" stroke="#333"/>'
            f'<line x1="{m}" y1="{m}" x2="{m}" y2="{height - m}" stroke="#333"/>'
            f'<text x="{width / 2}" y="{height - 10}" text-anchor="middle" font-size="12">{x_label}</text>'
            f'<text x="12" y="{height / 2}" font-size="12" transform="rotate(-90 12 {height / 2})" '
            f'text-anchor="middle">accuracy (%)</text>'
            f'<text x="{m - 4}" y="{sy(y1):.1f}" text-anchor="end" font-size="10">{y1:.1f}</text>'
            f'<text x="{m - 4}" y="{sy(y0):.1f}" text-anchor="end" font-size="10">{y0:.1f}</text>'
            f'<text x="{sx(x1):.1f}" y="{height - m + 14}" text-anchor="end" font-size="10">{x1:.3g}</text>'
            f"{marks}</svg>")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, float) for v in value):
        return f"[{value[0]:.4f}, {value[1]:.4f}]"
    return str(value)


def write_report(run_dir: Path, record: Mapping[str, Any], *, confusions: Mapping[str, Any],
                 label_names: Sequence[str]) -> Path:
    """Write ``report.md``, ``learning_curve.svg`` and ``confusion.svg`` into ``run_dir``."""
    run_dir = Path(run_dir)
    b, d = record["backbone"], record["dataset"]
    lines = [f"# {record['name']} — run `{record['run_id']}`", ""]
    if record.get("description"):
        lines += [record["description"], ""]
    lines += [
        f"- backbone: `{b['name']}` ({b['repo_id']}@{b['revision'][:12]})",
        f"- data: `{d['loader']}`, " + ", ".join(f"{k} {v['n']}" for k, v in d["used"].items())
        + f", {len(d['label_names'])} classes",
        f"- freezing: `{record['freezing']['policy']}`, trainable parameters "
        f"{record['freezing']['trainable_params']:,} of "
        f"{record['freezing']['trainable_params'] + record['freezing']['frozen_params']:,}",
        f"- seed {record['seed']}, device `{record['device']}`, {record['determinism']['threads']} threads, "
        f"started {record['started_at']}, {record['timings']['total']:.1f} s",
        "",
        "## Metrics",
        "",
        "| evaluator | split | accuracy | 95% CI | macro-F1 | 95% CI |",
        "|---|---|---|---|---|---|",
    ]
    for name, metrics in record["metrics"].items():
        details = record.get("evaluations", {}).get(name, {}).get("details") or {}
        split = metrics.get("split") or details.get("scored_split") or details.get("protocol") or ""
        if isinstance(metrics.get("accuracy_std"), float):
            split += f" (mean of {details.get('protocol', 'repeats')}, std {metrics['accuracy_std']:.4f})"
        lines.append(f"| {name} | {split} | "
                     f"{_fmt(metrics.get('accuracy', ''))} | {_fmt(metrics.get('accuracy_ci95', ''))} | "
                     f"{_fmt(metrics.get('macro_f1', ''))} | {_fmt(metrics.get('macro_f1_ci95', ''))} |")
    lines.append("")
    history = (record.get("training") or {}).get("history") or []
    if history:
        write_text_atomic(run_dir / "learning_curve.svg", learning_curve_svg(history))
        lines += ["## Learning curve", "", "![learning curve](learning_curve.svg)", ""]
    if confusions:
        name = "head" if "head" in confusions else next(iter(confusions))
        write_text_atomic(run_dir / "confusion.svg", confusion_svg(confusions[name], label_names, title=name))
        lines += [f"## Confusion matrix ({name})", "", "![confusion matrix](confusion.svg)", ""]
    tradeoffs = (record.get("compression") or {}).get("tradeoffs") or []
    if tradeoffs:
        lines += ["## Compression trade-offs", "", f"Metric: {record['compression'].get('metric', '')}.", "",
                  "| step | params | non-zero | size MB | latency ms/batch | throughput/s | accuracy |",
                  "|---|---|---|---|---|---|---|"]
        for r in tradeoffs:
            acc = f"{r['metric'] * 100:.2f}" if r.get("metric") is not None else "-"
            lines.append(f"| {r.get('label')} | {r['params']:,} | {r['nonzero']:,} | {r['size_bytes'] / 1e6:.1f} | "
                         f"{r['latency_ms']:.1f} | {r['throughput']:.0f} | {acc} |")
        if any(r.get("metric") is not None for r in tradeoffs):
            rows = [{**r, "size_mb": r["size_bytes"] / 1e6} for r in tradeoffs]
            write_text_atomic(run_dir / "tradeoff_size.svg", tradeoff_svg(rows, x_key="size_mb", x_label="size on disk (MB)"))
            write_text_atomic(run_dir / "tradeoff_latency.svg",
                              tradeoff_svg(rows, x_key="latency_ms", x_label="CPU latency per batch (ms)"))
            lines += ["", "![accuracy against size](tradeoff_size.svg) ![accuracy against latency](tradeoff_latency.svg)"]
        lines.append("")
    lines += ["## Timings (s)", "", " ".join(f"{k} {v}" for k, v in record["timings"].items()), ""]
    path = run_dir / "report.md"
    write_text_atomic(path, "\n".join(lines))
    return path
