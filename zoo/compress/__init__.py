"""Compression passes for deployment: pruning, quantization, distillation, with measured trade-offs.

Modules: :mod:`~zoo.compress.prune`, :mod:`~zoo.compress.quantize`, :mod:`~zoo.compress.distill`
(the passes, as plain functions), :mod:`~zoo.compress.measure` (size, latency, metric),
:mod:`~zoo.compress.pipeline` (order checks, running a list of passes, the trade-off table),
:mod:`~zoo.compress.serialize` (save and load), :mod:`~zoo.compress.spec` (the pass contract).
The builtin plugin ``zoo.default_plugins.compression`` registers the passes by name.

Importing this package is cheap; torch is imported when a name below is first used.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PassSpec",
    "TrainingData",
    "INITIAL_STATE",
    "TradeoffRow",
    "CompressedResult",
    "LatencyConfig",
    "LatencyStats",
    "check_order",
    "run_passes",
    "replay",
    "format_table",
    "save_compressed",
    "load_compressed",
    "measure",
    "measure_latency",
    "measure_latency_interleaved",
    "count_parameters",
    "size_on_disk",
]

_LAZY = {
    "PassSpec": "zoo.compress.spec",
    "TrainingData": "zoo.compress.spec",
    "INITIAL_STATE": "zoo.compress.spec",
    "TradeoffRow": "zoo.compress.pipeline",
    "CompressedResult": "zoo.compress.pipeline",
    "check_order": "zoo.compress.pipeline",
    "run_passes": "zoo.compress.pipeline",
    "replay": "zoo.compress.pipeline",
    "format_table": "zoo.compress.pipeline",
    "save_compressed": "zoo.compress.serialize",
    "load_compressed": "zoo.compress.serialize",
    "LatencyConfig": "zoo.compress.measure",
    "LatencyStats": "zoo.compress.measure",
    "measure": "zoo.compress.measure",
    "measure_latency": "zoo.compress.measure",
    "measure_latency_interleaved": "zoo.compress.measure",
    "count_parameters": "zoo.compress.measure",
    "size_on_disk": "zoo.compress.measure",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zoo.compress' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
