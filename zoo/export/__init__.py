"""Models that leave the zoo: ONNX Runtime files and Hub-format repositories with lineage.

Modules: :mod:`~zoo.export.source` (what a run directory holds, read in one place),
:mod:`~zoo.onnxgraph` (ONNX graphs and running them), :mod:`~zoo.export.targets` (a run or a
backbone to a checked ONNX file), :mod:`~zoo.export.hub` (a run to a Hub repository directory, a
registry entry with lineage, pushing and loading it back).

Importing this package is cheap; torch, onnx and huggingface_hub load when a name is used.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "RunSource",
    "read_run",
    "load_run_model",
    "OnnxModel",
    "OnnxExport",
    "export_onnx",
    "export_run_onnx",
    "export_backbone_onnx",
    "check_parity",
    "HubExport",
    "export_hub",
    "push",
    "load_classifier",
]

_LAZY = {
    "RunSource": "zoo.export.source",
    "read_run": "zoo.export.source",
    "load_run_model": "zoo.export.source",
    "OnnxModel": "zoo.onnxgraph",
    "export_onnx": "zoo.onnxgraph",
    "check_parity": "zoo.onnxgraph",
    "OnnxExport": "zoo.export.targets",
    "export_run_onnx": "zoo.export.targets",
    "export_backbone_onnx": "zoo.export.targets",
    "HubExport": "zoo.export.hub",
    "export_hub": "zoo.export.hub",
    "push": "zoo.export.hub",
    "load_classifier": "zoo.export.hub",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zoo.export' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
