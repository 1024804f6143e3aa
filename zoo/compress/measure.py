"""Measuring a (compressed) model: parameters, non-zeros, size on disk, CPU latency, task metric.

- Parameters count weight *elements* whatever their storage (int8 weights of quantized linears
  included); non-zeros count elements that are not 0 (for int8 weights: the int8 value).
- Size on disk is the size of the safetensors file :func:`zoo.compress.save_compressed` writes
  (int8 tensors stay int8), measured by writing it to a temporary directory.
- Latency runs the model on fixed, pre-tokenized batches (tokenization excluded) in inference
  mode with a fixed number of torch threads, after warm-up runs; each repeat times every batch
  once, and the reported figure is the median over repeats of the mean time per batch (with the
  quartiles, to show the spread). On a shared machine, compare models with
  :func:`measure_latency_interleaved`, which alternates models within each repeat so that load
  from other processes affects them alike.
- Throughput (:func:`measure_throughput_interleaved`) is what a user gets: sentences per second of
  the whole encode path (tokenization, batching, the model, pooling) on real sentences, every
  model once per round in rotating order after a full warm-up round each, the median round. This
  is the figure of the trade-off table and of ``bench/bench_encode.py``, which calls this same
  function. Latency per pre-tokenized batch is kept as a model-only figure: on one padded batch it
  overstates what int8 gains end to end (see ``bench/README.md``).
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
from torch import nn

__all__ = [
    "LatencyConfig",
    "LatencyStats",
    "Measurement",
    "count_parameters",
    "size_on_disk",
    "tensor_bytes",
    "torch_threads",
    "measure_latency",
    "measure_latency_interleaved",
    "measure_throughput_interleaved",
    "ThroughputStats",
    "measure",
]

Batch = Sequence[Any]


@dataclass(frozen=True)
class LatencyConfig:
    """How latency is measured: ``repeats`` timed rounds after ``warmup`` rounds, on ``threads`` threads."""

    repeats: int = 10
    warmup: int = 2
    threads: int = 1

    def __post_init__(self) -> None:
        if self.repeats < 1 or self.warmup < 0 or self.threads < 1:
            raise ValueError(f"need repeats >= 1, warmup >= 0, threads >= 1; got {self}")


@dataclass(frozen=True)
class LatencyStats:
    """Milliseconds per batch: median and quartiles over repeats; ``batch_size`` = mean sentences per batch."""

    median_ms: float
    q1_ms: float
    q3_ms: float
    repeats: int
    batches: int
    batch_size: float
    threads: int

    @property
    def throughput(self) -> float:
        """Items (sentences) per second at the median latency."""
        return self.batch_size * 1000.0 / self.median_ms if self.median_ms > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "throughput": self.throughput}


@dataclass(frozen=True)
class Measurement:
    """One model's figures. ``latency`` and ``metric`` are None when not measured."""

    params: int
    nonzero: int
    size_bytes: int
    latency: LatencyStats | None = None
    metric: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["latency"] = self.latency.to_dict() if self.latency else None
        return out


@dataclass(frozen=True)
class ThroughputStats:
    """Seconds per round over ``items`` texts: median and quartiles over ``rounds`` rounds."""

    median_s: float
    q1_s: float
    q3_s: float
    rounds: int
    items: int
    threads: int

    @property
    def throughput(self) -> float:
        """Texts per second at the median round."""
        return self.items / self.median_s if self.median_s > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "throughput": self.throughput}


# --- counting -----------------------------------------------------------------------------


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(elements, non-zero elements)`` of every weight, bias and embedding, quantized ones included.

    Buffers that are not weights (masks, position ids, quantization scales) are not counted;
    int8 weights of :class:`~zoo.compress.quantize.WeightInt8Linear` are.
    """
    from zoo.compress.serialize import weight_tensors

    total = nonzero = 0
    for tensor in weight_tensors(model):
        total += tensor.numel()
        nonzero += int(torch.count_nonzero(tensor))
    return total, nonzero


def tensor_bytes(model: nn.Module) -> int:
    """Bytes of the tensors :func:`zoo.compress.save_compressed` would write."""
    from zoo.compress.serialize import export_tensors

    tensors, _ = export_tensors(model)
    return sum(t.numel() * t.element_size() for t in tensors.values())


def size_on_disk(model: nn.Module) -> int:
    """Bytes of the file :func:`zoo.compress.save_compressed` would write for ``model``.

    That is a safetensors file of its exported tensors. A model whose state is not plain
    tensors (it will be saved as a replay record) is measured, for its size only, as a
    ``torch.save`` of its state dict; that file is never loaded.
    """
    from zoo.compress.serialize import NotExportable, export_tensors, write_weights

    with tempfile.TemporaryDirectory(prefix="zoo-size-") as tmp:
        try:
            tensors, _ = export_tensors(model)
        except NotExportable:
            path = Path(tmp) / "state_dict.pt"
            torch.save(model.state_dict(), path)
        else:
            path = write_weights(tensors, Path(tmp) / "model.safetensors")
        return path.stat().st_size


# --- latency ------------------------------------------------------------------------------


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)``; restore the previous count after."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _batch_size(batch: Batch) -> int:
    """Examples in a batch: the leading dimension of its first tensor (a dict of tensors counts too)."""
    first = batch[0] if isinstance(batch, (tuple, list)) else batch
    if isinstance(first, Mapping) and first:
        first = next(iter(first.values()))
    return int(first.shape[0]) if hasattr(first, "shape") else 1


def _call(model: Callable[..., Any], batch: Batch) -> Any:
    return model(*batch) if isinstance(batch, (tuple, list)) else model(batch)


def _time_round(model: Callable[..., Any], batches: Sequence[Batch]) -> float:
    start = time.perf_counter_ns()
    for batch in batches:
        _call(model, batch)
    return (time.perf_counter_ns() - start) / 1e6 / len(batches)


@contextmanager
def _inference(models: Sequence[nn.Module]) -> Iterator[None]:
    modes = [m.training for m in models]
    for m in models:
        m.eval()
    gc_was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        with torch.inference_mode():
            yield
    finally:
        if gc_was:
            gc.enable()
        for m, mode in zip(models, modes):
            m.train(mode)


def _stats(times: list[float], batches: Sequence[Batch], cfg: LatencyConfig) -> LatencyStats:
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    size = sum(_batch_size(b) for b in batches) / len(batches)
    return LatencyStats(statistics.median(times), q[0], q[2], len(times), len(batches), size, cfg.threads)


def measure_latency(model: nn.Module, batches: Sequence[Batch],
                    config: LatencyConfig = LatencyConfig()) -> LatencyStats:
    """Median milliseconds per batch of ``model(*batch)`` over ``config.repeats`` rounds.

    ``batches`` is a non-empty list of positional-argument tuples (e.g. ``(input_ids,
    attention_mask, token_type_ids)``), or of single tensors.
    """
    return measure_latency_interleaved({"model": model}, batches, config)["model"]


def measure_latency_interleaved(models: Mapping[str, nn.Module], batches: Sequence[Batch],
                                config: LatencyConfig = LatencyConfig()) -> dict[str, LatencyStats]:
    """Like :func:`measure_latency` for several models, alternating them within every round.

    The order of models rotates each round, so no model always runs first after another one.
    """
    if not batches:
        raise ValueError("measure_latency needs at least one batch")
    names = list(models)
    times: dict[str, list[float]] = {n: [] for n in names}
    with torch_threads(config.threads), _inference(list(models.values())):
        for name in names:
            for _ in range(config.warmup):
                _time_round(models[name], batches)
        for r in range(config.repeats):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                times[name].append(_time_round(models[name], batches))
    return {n: _stats(times[n], batches, config) for n in names}


def measure_throughput_interleaved(runners: Mapping[str, Callable[[Sequence[str]], Any]], texts: Sequence[str],
                                   config: LatencyConfig = LatencyConfig(repeats=3, warmup=1),
                                   warmup_items: int | None = None) -> dict[str, ThroughputStats]:
    """Texts per second of each ``runners[name](texts)`` (e.g. ``lambda t: encoder.encode(t)``).

    Every runner runs ``config.warmup`` rounds first (on the first ``warmup_items`` texts when
    given, else on all), then ``config.repeats`` rounds in
    which every runner encodes all of ``texts`` once, the order rotating each round so that no
    runner always follows the same one; on ``config.threads`` torch threads, garbage collection
    paused. Texts are real sentences, so tokenization, padding and sorting count as they do for
    a user.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("measure_throughput needs at least one text")
    names = list(runners)
    times: dict[str, list[float]] = {n: [] for n in names}
    with torch_threads(config.threads), _inference([m for m in runners.values() if isinstance(m, nn.Module)]):
        for name in names:
            for _ in range(config.warmup):
                runners[name](texts[:warmup_items] if warmup_items else texts)
        for r in range(config.repeats):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                start = time.perf_counter_ns()
                runners[name](texts)
                times[name].append((time.perf_counter_ns() - start) / 1e9)
    out = {}
    for name in names:
        t = times[name]
        q = statistics.quantiles(t, n=4) if len(t) > 1 else [t[0]] * 3
        out[name] = ThroughputStats(statistics.median(t), q[0], q[2], len(t), len(texts), config.threads)
    return out


def measure(model: nn.Module, *, evaluate: Callable[[nn.Module], float] | None = None,
            batches: Sequence[Batch] | None = None, latency: LatencyConfig | None = LatencyConfig()) -> Measurement:
    """Every figure of one model; latency only when ``batches`` and ``latency`` are given."""
    params, nonzero = count_parameters(model)
    stats = measure_latency(model, batches, latency) if batches and latency is not None else None
    metric = float(evaluate(model)) if evaluate is not None else None
    return Measurement(params, nonzero, size_on_disk(model), stats, metric)
