"""Exporting a run (or a bare backbone) to a deployment target, checked on real inputs.

:func:`export_run_onnx` and :func:`export_backbone_onnx` write one ``.onnx`` file and check it
against the torch model on texts: by default the run's own test sentences, re-read through the
recorded dataset loader and options (the data files are checked against the record's sha256 by
the loader's fingerprint), or the lines of a text file the caller names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import ExportError
from .source import RunSource, load_run_model, read_run

__all__ = ["OnnxExport", "export_run_onnx", "export_backbone_onnx", "run_texts", "read_texts"]

DEFAULT_CHECK_TEXTS = 500


@dataclass(frozen=True)
class OnnxExport:
    """A written ONNX file and the parity check it passed."""

    path: Path
    parity: Any  # zoo.onnxgraph.ParityReport
    texts_from: str
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "size_bytes": self.size_bytes, "texts_from": self.texts_from,
                **self.parity.to_dict()}


def read_texts(path: str | Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file."""
    path = Path(path)
    if not path.is_file():
        raise ExportError("no such file of check texts (one text per line).", path=str(path))
    texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise ExportError("the file of check texts has no non-empty line.", path=str(path))
    return texts


def run_texts(source: RunSource, n: int = DEFAULT_CHECK_TEXTS) -> list[str]:
    """Up to ``n`` inputs of the run's test split (else validation, else train), via the recorded loader.

    Raises:
        ExportError: the dataset cannot be loaded again (moved or changed files).
    """
    from ..plugins import get_component, validate_options

    ds = source.dataset
    loader, options = ds.get("loader"), dict(ds.get("options") or {})
    base_dir = Path(str(source.extra.get("base_dir") or source.run_dir))
    try:
        comp = get_component("dataset", str(loader))
        bundle = comp.obj(validate_options(comp, options), base_dir=base_dir, seed=source.seed or 0)
    except Exception as exc:  # any loader problem: say which data and what to do instead
        raise ExportError(f"cannot re-read the run's dataset ({loader}: {exc}); pass check texts with "
                          f"--check-texts FILE.", path=str(source.run_dir)) from None
    recorded = ds.get("fingerprint")
    if recorded and getattr(bundle, "fingerprint", recorded) != recorded:
        raise ExportError("the run's dataset files changed since the run (fingerprint differs); pass check texts "
                          "with --check-texts FILE.", path=str(source.run_dir))
    split = bundle.test or bundle.validation or bundle.train
    return [str(t) for t in list(split.inputs)[:n]]


def _check(model: Any, path: Path, texts: Sequence[str], tolerance: float | None) -> Any:
    from ..onnxgraph import OnnxModel, add_metadata, check_parity

    report = check_parity(model, OnnxModel(path, threads=1), texts)
    import json

    add_metadata(path, {"zoo.parity": json.dumps(report.to_dict(), sort_keys=True)})
    if tolerance is not None and report.max_abs_diff > tolerance:
        raise ExportError(f"ONNX Runtime differs from torch by {report.max_abs_diff:.3g} on {report.n} texts "
                          f"(tolerance {tolerance:g}); the file is kept for inspection.", path=str(path))
    return report


def export_run_onnx(run_dir: str | Path, output: str | Path | None = None, *, check_texts: Sequence[str] | None = None,
                    n_check: int = DEFAULT_CHECK_TEXTS, tolerance: float | None = 1e-4) -> OnnxExport:
    """Export a run's backbone + head to ONNX (default ``RUN_DIR/model.onnx``) and check it.

    Raises:
        MissingExtraError: onnx/onnxruntime are not installed.
        ExportError: not a finished run with a head, data for the check unavailable, or the graph
            differs from torch by more than ``tolerance``.
    """
    from ..onnxgraph import export_onnx, require_onnx

    require_onnx()
    source = read_run(run_dir)
    model = load_run_model(source)
    texts, origin = ((list(check_texts), "given texts") if check_texts is not None
                     else (run_texts(source, n_check), f"{source.dataset.get('loader')} test split of the run"))
    path = Path(output) if output else source.run_dir / "model.onnx"
    export_onnx(model, path, label_names=source.label_names,
                source={"run_id": source.run_id, "backbone": source.backbone, "revision": source.backbone_revision,
                        "recipe_digest": source.recipe_digest})
    report = _check(model, path, texts, tolerance)
    return OnnxExport(path, report, origin, path.stat().st_size)


def export_backbone_onnx(name: str, output: str | Path | None = None, *, check_texts: Sequence[str] | None = None,
                         max_seq_length: int | None = None, tolerance: float | None = 1e-4) -> OnnxExport:
    """Export a registered backbone (no head) to ONNX (default ``./NAME.onnx``) and check it on ``check_texts``."""
    from ..builder import load_backbone
    from ..onnxgraph import export_onnx, require_onnx

    require_onnx()
    encoder = load_backbone(name).eval()
    if max_seq_length:
        encoder.set_max_seq_length(max_seq_length)
    path = Path(output) if output else Path(f"{name}.onnx")
    r = encoder.resolved
    export_onnx(encoder, path, source={"backbone": name, "repo_id": r.repo_id, "revision": r.revision})
    from ..onnxgraph import EXAMPLE_TEXTS

    texts, origin = (list(check_texts), "given texts") if check_texts is not None else (EXAMPLE_TEXTS, "example texts")
    report = _check(encoder, path, texts, tolerance)
    return OnnxExport(path, report, origin, path.stat().st_size)
