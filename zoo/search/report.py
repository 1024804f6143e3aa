"""The search report: optimization history and parameter importances as hand-written SVG.

``history.svg`` plots each trial's validation value by trial number (pruned trials hollow, at
their last reported value) with the best-so-far line; ``importances.svg`` is a bar per searched
key (Optuna's fANOVA importances over the completed trials). ``report.md`` links both.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any, Mapping, Sequence

from .._atomic import write_text_atomic
from .._text import text_table

__all__ = ["history_svg", "importances_svg", "write_search_report"]


def _frame(width: int, height: int) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
            f'font-size="11">', f'<rect width="{width}" height="{height}" fill="white"/>']


def history_svg(trials: Sequence[Mapping[str, Any]], *, width: int = 560, height: int = 300) -> str:
    """Value per trial number (filled: complete, hollow: pruned) and the best so far."""
    left, right, top, bottom = 55, 20, 25, 40
    pw, ph = width - left - right, height - top - bottom
    pts = [(t["number"], t["value"], t["state"]) for t in trials
           if t.get("value") is not None and t["state"] in ("COMPLETE", "PRUNED")]
    numbers = [t["number"] for t in trials] or [0]
    lo_n, hi_n = min(numbers), max(max(numbers), min(numbers) + 1)
    values = [v for _, v, _ in pts] or [0.0, 1.0]
    lo_v, hi_v = min(values), max(values)
    if hi_v - lo_v < 1e-9:
        lo_v, hi_v = lo_v - 0.5, hi_v + 0.5

    def x(n: float) -> float:
        return left + pw * (n - lo_n) / (hi_n - lo_n)

    def y(v: float) -> float:
        return top + ph * (1 - (v - lo_v) / (hi_v - lo_v))

    parts = _frame(width, height)
    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for t in range(5):
        v = lo_v + (hi_v - lo_v) * t / 4
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.3f}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 8}" text-anchor="middle">trial</text>')
    parts.append(f'<text x="{left}" y="15">validation value per trial (hollow: pruned) and best so far</text>')
    best, line = None, []
    for n, v, state in sorted(pts):
        fill = "#1f77b4" if state == "COMPLETE" else "white"
        parts.append(f'<circle cx="{x(n):.1f}" cy="{y(v):.1f}" r="3.5" fill="{fill}" stroke="#1f77b4"/>')
        if state == "COMPLETE":
            best = v if best is None else max(best, v)
        if best is not None:
            line.append(f"{x(n):.1f},{y(best):.1f}")
    if line:
        parts.append(f'<polyline fill="none" stroke="#d62728" stroke-width="2" points="{" ".join(line)}"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def importances_svg(importances: Mapping[str, float], *, width: int = 560) -> str:
    """One horizontal bar per key, longest first."""
    items = sorted(importances.items(), key=lambda kv: -kv[1])
    height = 40 + 24 * max(len(items), 1)
    label_w = 200
    parts = _frame(width, height)
    parts.append('<text x="10" y="15">parameter importance (fANOVA over completed trials)</text>')
    span = width - label_w - 70
    for i, (key, value) in enumerate(items):
        yy = 30 + 24 * i
        parts.append(f'<text x="{label_w - 6}" y="{yy + 13}" text-anchor="end">{escape(key)}</text>')
        parts.append(f'<rect x="{label_w}" y="{yy}" width="{span * max(value, 0):.1f}" height="16" fill="#2ca02c"/>')
        parts.append(f'<text x="{label_w + span * max(value, 0) + 6:.1f}" y="{yy + 13}">{value:.3f}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_search_report(sweep_dir: Path, summary: Mapping[str, Any]) -> Path:
    """``report.md``, ``history.svg`` and (with importances) ``importances.svg`` in ``sweep_dir``."""
    trials = summary["trials"]
    write_text_atomic(sweep_dir / "history.svg", history_svg(trials))
    lines = [f"# Search: {summary['name']}", "", f"method: {summary['method']}, metric: {summary['metric']} "
             f"(validation only), trials: {len(trials)}", ""]
    for key in ("optuna_version", "ray_version"):
        if summary.get(key):
            lines.append(f"- {key.replace('_', ' ')}: {summary[key]}")
    if summary.get("settings"):
        lines.append(f"- settings: `{json.dumps(summary['settings'], sort_keys=True)}`")
    lines += ["", "![optimization history](history.svg)", ""]
    importances = summary.get("importances")
    if importances:
        write_text_atomic(sweep_dir / "importances.svg", importances_svg(importances))
        lines += ["![parameter importances](importances.svg)", ""]
    elif summary.get("importances_note"):
        lines += [f"Parameter importances: {summary['importances_note']}", ""]
    keys = sorted({k for t in trials for k in t["params"]})
    rows = [[str(t["number"]) + ("*" if summary.get("best") == t["number"] else ""), t["state"],
             "" if t.get("value") is None else f"{t['value']:.4f}", *[json.dumps(t["params"].get(k)) for k in keys],
             t.get("run_dir") or ""] for t in trials]
    lines += ["```", text_table(["#", "state", "value", *keys, "run"], rows), "```", ""]
    if summary.get("best") is not None:
        best = next(t for t in trials if t["number"] == summary["best"])
        lines.append(f"Best (chosen on validation only): trial {best['number']}, reproduce it with "
                     f"`zoo reproduce {best.get('run_dir')}`.")
    path = sweep_dir / "report.md"
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path
