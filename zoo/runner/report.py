"""The short Markdown report of a run, with its plots (:mod:`zoo.plots`, matplotlib).

``report.md`` summarizes the metrics; ``learning_curve.svg`` shows train and validation loss
and validation accuracy per epoch; ``confusion.svg`` shows the confusion matrix of the head
(or of the first evaluator when no head was trained), with a table of the most confused pairs
above 20 classes. Without matplotlib (the ``catalog`` extra) the report has tables only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from .._atomic import write_text_atomic
from ..plots import report_plots

__all__ = ["write_report"]


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
    plots = report_plots(run_dir, record, confusions=confusions, label_names=label_names)
    if plots["learning_curve"]:
        lines += ["## Learning curve", "", *plots["learning_curve"]]
    if confusions:
        name = "head" if "head" in confusions else next(iter(confusions))
        lines += [f"## Confusion matrix ({name})", "", *plots["confusion"]]
    tradeoffs = (record.get("compression") or {}).get("tradeoffs") or []
    if tradeoffs:
        lines += ["## Compression trade-offs", "", f"Metric: {record['compression'].get('metric', '')}.", "",
                  "| step | params | non-zero | size MB | latency ms/batch | throughput/s | accuracy |",
                  "|---|---|---|---|---|---|---|"]
        for r in tradeoffs:
            acc = f"{r['metric'] * 100:.2f}" if r.get("metric") is not None else "-"
            lines.append(f"| {r.get('label')} | {r['params']:,} | {r['nonzero']:,} | {r['size_bytes'] / 1e6:.1f} | "
                         f"{r['latency_ms']:.1f} | {r['throughput']:.0f} | {acc} |")
        lines += plots["tradeoffs"]
        lines.append("")
    lines += ["## Timings (s)", "", " ".join(f"{k} {v}" for k, v in record["timings"].items()), ""]
    path = run_dir / "report.md"
    write_text_atomic(path, "\n".join(lines))
    return path
