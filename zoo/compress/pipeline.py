"""Running compression passes in order, measuring each step, and refusing orders that cannot work.

:func:`run_passes` checks the whole list first (:func:`check_order`), copies the model, measures
the baseline, then applies each pass and measures again, so every row of the trade-off table is
the model *after* that pass (passes compose: ``prune-heads`` then ``dynamic-int8`` is one row per
step). Each pass runs after ``torch.manual_seed(seed + step)``, which is also how
:func:`replay` re-applies a record deterministically.

A pass is named by a string (looked up among the ``compression`` components), a
``(name_or_component, options)`` pair where options is a mapping (validated against the
component's schema), an options instance or None, or a bare :class:`~zoo.compress.spec.PassSpec`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn

from zoo.compress.apply import _apply, _bytes, _seed, apply_spec, check_order, replay
from zoo._progress import progress
from zoo.compress.measure import (
    LatencyConfig,
    LatencyStats,
    ThroughputStats,
    measure,
    measure_latency_interleaved,
    measure_throughput_interleaved,
)
from zoo.compress.serialize import load_compressed, save_compressed
from zoo.compress.spec import ResolvedPass, TrainingData, resolve_passes
from zoo.errors import CompressionPassError

__all__ = [
    "ResolvedPass",
    "TradeoffRow",
    "CompressedResult",
    "resolve_passes",
    "check_order",
    "apply_spec",
    "run_passes",
    "replay",
    "format_table",
    "save_compressed",
    "load_compressed",
]


# --- a list of passes ---------------------------------------------------------------------


@dataclass(frozen=True)
class TradeoffRow:
    """The model after ``step`` passes (step 0: the baseline). ``metric_delta`` is against step 0."""

    step: int
    label: str
    pass_name: str
    params: int
    nonzero: int
    size_bytes: int
    latency_ms: float | None
    latency_q1_ms: float | None
    latency_q3_ms: float | None
    throughput: float | None
    metric: float | None
    metric_delta: float | None
    seconds: float
    atol: float
    throughput_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CompressedResult:
    """What :func:`run_passes` returns: the final model, one row per step, one record entry per pass."""

    model: nn.Module
    rows: tuple[TradeoffRow, ...]
    record: list[dict[str, Any]]


def _row(step: int, label: str, name: str, model: nn.Module, *, evaluate: Callable | None,
         baseline: float | None, seconds: float, atol: float) -> TradeoffRow:
    m = measure(model, evaluate=evaluate, latency=None)
    delta = m.metric - baseline if m.metric is not None and baseline is not None else None
    return TradeoffRow(step, label, name, m.params, m.nonzero, m.size_bytes, None, None, None, None,
                       m.metric, delta, round(seconds, 3), atol)


def _with_latency(row: TradeoffRow, stats: LatencyStats) -> TradeoffRow:
    return dataclasses.replace(row, latency_ms=stats.median_ms, latency_q1_ms=stats.q1_ms, latency_q3_ms=stats.q3_ms,
                               throughput=stats.throughput, throughput_source="model on the timed batches")


def _with_throughput(row: TradeoffRow, stats: ThroughputStats) -> TradeoffRow:
    return dataclasses.replace(row, throughput=stats.throughput,
                               throughput_source=f"end to end on {stats.items} texts, median of {stats.rounds} "
                                                 f"interleaved rounds, {stats.threads} thread(s)")


def run_passes(
    passes: Sequence[Any],
    model: nn.Module,
    *,
    evaluate: Callable[[nn.Module], float] | None = None,
    example_inputs: tuple[Any, ...] | None = None,
    latency_batches: Sequence[tuple[Any, ...]] | None = None,
    latency: LatencyConfig | None = LatencyConfig(),
    texts: Sequence[Any] | None = None,
    run_texts: Callable[[nn.Module, Sequence[Any]], Any] | None = None,
    throughput: LatencyConfig = LatencyConfig(repeats=3, warmup=1),
    data: TrainingData | None = None,
    seed: int = 0,
    copy: bool = True,
    manager: Any = None,
) -> CompressedResult:
    """Apply ``passes`` in order to (a copy of) ``model`` and measure the model after each step.

    Args:
        passes: names, ``(name, options)`` pairs, components or specs (see the module doc).
        model: the trained float32 model; with ``copy=True`` (default) it is left unchanged.
        evaluate: ``evaluate(model) -> float``, the task metric (higher is better), or None.
        example_inputs: one batch of positional inputs, e.g. ``(input_ids, attention_mask,
            token_type_ids)``; used to measure output deviation and, by default, latency.
        latency_batches: batches timed for latency (default ``[example_inputs]``).
        latency: repeats, warm-up and threads of the latency measurement; None skips it. The
            models of all steps are timed together at the end, alternating within each repeat
            (a copy of the model is kept per step until then), so that load from other
            processes does not favour one step.
        texts, run_texts: real inputs and ``run_texts(model, texts)`` (e.g. tokenize, batch and
            predict, as a user does): when both are given and ``latency`` is not None, each row's
            throughput is texts per second of that whole path
            (:func:`~zoo.compress.measure.measure_throughput_interleaved`, ``throughput`` rounds),
            the figure ``bench/bench_encode.py`` reproduces; otherwise it is derived from the
            model-only latency on the timed batches, which overstates what a user gains.
        data: task data for passes that train (``distill``).
        seed: pass ``i`` (1-based) runs after ``torch.manual_seed(seed + i)``.

    Returns:
        :class:`CompressedResult` with the compressed model, the baseline row and one row per
        pass, and the record: one JSON-ready dict per pass (name, options, plugin, seconds, what
        the pass reported, the state tags after it).

    Raises:
        CompressionOrderError: the order cannot work (checked before anything runs).
        CompressionPassError: a pass cannot be applied to this model, or needs ``data``.
        UnknownComponentError, OptionsError: a pass name or its options are wrong.
    """
    import copy as copy_module

    resolved = resolve_passes(passes, manager=manager)
    states = check_order(resolved)
    needing = [rp.name for rp in resolved if rp.spec_needs_data]
    if needing and data is None:
        raise CompressionPassError(f"{needing} train on task data: pass data=TrainingData(texts, labels)")
    if copy:
        model = copy_module.deepcopy(model)
    batches = list(latency_batches) if latency_batches else ([example_inputs] if example_inputs is not None else None)
    timing = latency is not None and bool(batches)
    end_to_end = latency is not None and bool(texts) and run_texts is not None
    snapshots: list[nn.Module] = []  # the model after each step, timed together at the end
    base = _row(0, "baseline", "baseline", model, evaluate=evaluate, baseline=None, seconds=0.0, atol=0.0)
    rows, record, chain = [base], [], []
    steps = progress(list(enumerate(zip(resolved, states), start=1)), desc="compress", unit="pass")
    for step, (rp, state) in steps:
        if timing or end_to_end:
            snapshots.append(copy_module.deepcopy(model))  # passes may change the model in place
        _seed(seed + step)
        start = time.perf_counter()
        report, info = _apply(rp.spec, model, rp.options, example_inputs=example_inputs, data=data)
        seconds = time.perf_counter() - start
        model, chain = report.model, chain + [rp.name]
        rows.append(_row(step, " -> ".join(chain), rp.name, model, evaluate=evaluate, baseline=base.metric,
                         seconds=seconds, atol=report.atol))
        record.append({
            "step": step, "pass": rp.name, "options": rp.options_dict(), "plugin": rp.plugin,
            "version": getattr(rp.component, "version", None), "needs_data": rp.spec_needs_data,
            "seed": seed + step, "seconds": round(seconds, 3), "info": info, "state_after": sorted(state),
            "size_bytes": report.size_bytes, "original_size_bytes": report.original_size_bytes,
            "atol": report.atol if math.isfinite(report.atol) else None,
        })
    if timing:
        stats = measure_latency_interleaved({str(i): m for i, m in enumerate(snapshots + [model])}, batches, latency)
        rows = [_with_latency(row, stats[str(i)]) for i, row in enumerate(rows)]
    if end_to_end:
        assert latency is not None and texts is not None and run_texts is not None
        runners = {str(i): functools.partial(run_texts, m) for i, m in enumerate(snapshots + [model])}
        config = dataclasses.replace(throughput, threads=latency.threads)
        tstats = measure_throughput_interleaved(runners, list(texts), config, warmup_items=min(len(texts), 128))
        rows = [_with_throughput(row, tstats[str(i)]) for i, row in enumerate(rows)]
    for entry, row in zip(record, rows[1:]):
        entry["row"] = row.to_dict()
    return CompressedResult(model, tuple(rows), record)


# --- the table ----------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(rows: Sequence[TradeoffRow], *, metric: str = "accuracy", percent: bool = True) -> str:
    """A Markdown table: pass | params | non-zero | size MB | latency | throughput | speed-up | metric | delta.

    Latency is the model's median ms per pre-tokenized batch with the interquartile range;
    throughput and speed-up are end to end on real texts when :func:`run_passes` measured them
    that way (``throughput_source`` says which; the table notes it), else from that latency.
    ``percent`` shows the metric (and its change, in points) as a percentage.
    """
    scale, unit = (100.0, " pts") if percent else (1.0, "")
    base = next((r.throughput for r in rows if r.step == 0 and r.throughput), None)
    head = ["pass", "params", "non-zero", "size MB", "model latency ms/batch (median [IQR])", "throughput sent/s",
            "speed-up", metric, f"delta {metric}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        lat = "-" if r.latency_ms is None else f"{r.latency_ms:.1f} [{r.latency_q1_ms:.1f}-{r.latency_q3_ms:.1f}]"
        speed = "-" if not (base and r.throughput) else f"{r.throughput / base:.2f}x"
        cells = [r.label, f"{r.params / 1e6:.2f}M", f"{r.nonzero / 1e6:.2f}M", f"{r.size_bytes / 1e6:.1f}", lat,
                 _fmt(r.throughput, ".0f"), speed,
                 _fmt(None if r.metric is None else r.metric * scale, ".2f"),
                 "-" if r.metric_delta is None else f"{r.metric_delta * scale:+.2f}{unit}"]
        lines.append("| " + " | ".join(cells) + " |")
    source = next((r.throughput_source for r in rows if r.throughput_source), None)
    if source:
        lines.append(f"\nthroughput: {source}")
    return "\n".join(lines)
