"""What an export needs from a finished run directory, read in one place.

:func:`read_run` is the only code in :mod:`zoo.export` that knows the run record's layout. It
accepts the record as the runner writes it today (a JSON mapping) and a typed record object
(anything with ``to_dict()`` or a dataclass), so the exporters do not change when the record does.
:func:`load_run_model` rebuilds the trained model: the backbone through the registry (verified
against the record's hashes), the head from its recorded plugin and options, and the weights the
run saved.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ExportError

__all__ = ["RunSource", "read_run", "load_run_model", "recipe_digest"]


@dataclass(frozen=True)
class RunSource:
    """The facts of one finished run that exports use."""

    run_dir: Path
    run_id: str
    name: str
    description: str
    backbone: str
    backbone_repo: str
    backbone_revision: str
    backbone_files: Mapping[str, str]
    max_seq_length: int | None
    head: str
    head_options: Mapping[str, Any]
    label_names: tuple[str, ...]
    metrics: Mapping[str, Mapping[str, Any]]
    dataset: Mapping[str, Any]
    recipe: Mapping[str, Any]
    recipe_digest: str
    zoo_version: str
    seed: int | None
    compression: tuple[str, ...] = ()
    head_weights: Path | None = None
    backbone_weights: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.label_names)


def recipe_digest(resolved: Mapping[str, Any]) -> str:
    """sha256 naming a resolved recipe: of its canonical JSON, so TOML formatting does not count."""
    from ..data.hashing import fingerprint

    return fingerprint({"recipe": resolved})


def _as_mapping(record: Any) -> dict[str, Any]:
    if isinstance(record, Mapping):
        return dict(record)
    to_dict = getattr(record, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    raise TypeError(f"a run record is a mapping or has to_dict(); got {type(record).__name__}")


def _get(data: Mapping[str, Any], *path: str, default: Any = None) -> Any:
    cur: Any = data
    for key in path:
        if isinstance(cur, Mapping) and key in cur:
            cur = cur[key]
        elif cur is not None and not isinstance(cur, Mapping) and hasattr(cur, key):
            cur = getattr(cur, key)
        else:
            return default
    return cur


def _load(run_dir: Path) -> dict[str, Any]:
    from ..runner.record import load_record

    try:
        record = load_record(run_dir)
    except FileNotFoundError as exc:
        raise ExportError(str(exc)) from None  # the message names the directory
    except ValueError as exc:  # a corrupt record.json (json.JSONDecodeError is a ValueError)
        raise ExportError(f"record.json cannot be read ({exc}); is the run directory complete?",
                          path=str(run_dir)) from None
    return _as_mapping(record)


def read_run(run_dir: str | Path) -> RunSource:
    """Read a finished run directory.

    Raises:
        ExportError: no (complete) record, a run that trained no head, or a record without the
            backbone or label names an export needs.
    """
    run_dir = Path(run_dir)
    rec = _load(run_dir)
    resolved = _get(rec, "recipe", "resolved", default={}) or {}
    head_file = run_dir / "head.safetensors"
    if not head_file.is_file():
        raise ExportError("the run trained no head (no head.safetensors); export a bare backbone with "
                          "`zoo export --backbone NAME` or run a recipe with [training] epochs > 0.", path=str(run_dir))
    backbone = _get(rec, "backbone", "name") or _get(resolved, "backbone", "name")
    labels = _get(rec, "dataset", "label_names")
    if not backbone or not labels:
        raise ExportError("the record names no backbone or no label names; it was not written by `zoo run`.",
                          path=str(run_dir / "record.json"))
    trainable = run_dir / "backbone-trainable.safetensors"
    passes = _get(rec, "compression", "passes", default=[]) or []
    return RunSource(
        run_dir=run_dir,
        run_id=str(_get(rec, "run_id", default=run_dir.name)),
        name=str(_get(rec, "name", default=_get(resolved, "name", default=run_dir.name))),
        description=str(_get(rec, "description", default="") or ""),
        backbone=str(backbone),
        backbone_repo=str(_get(rec, "backbone", "repo_id", default="")),
        backbone_revision=str(_get(rec, "backbone", "revision", default="")),
        backbone_files=dict(_get(rec, "backbone", "files", default={}) or {}),
        max_seq_length=_get(resolved, "backbone", "max_seq_length")
        or _get(rec, "backbone", "preprocessing", "max_seq_length"),
        head=str(_get(resolved, "head", "name", default=_get(rec, "components", "head", "name", default="linear"))),
        head_options=dict(_get(resolved, "head", "options", default={}) or {}),
        label_names=tuple(str(x) for x in labels),
        metrics=dict(_get(rec, "metrics", default={}) or {}),
        dataset=dict(_get(rec, "dataset", default={}) or {}),
        recipe=dict(resolved),
        recipe_digest=recipe_digest(resolved),
        zoo_version=str(_get(rec, "zoo_version", default=_get(rec, "environment", "zoo", default=""))),
        seed=_get(rec, "seed"),
        compression=tuple(str(p.get("pass")) for p in passes if isinstance(p, Mapping)),
        head_weights=head_file,
        backbone_weights=trainable if trainable.is_file() else None,
        extra={"training_mode": _get(rec, "training", "mode"), "base_dir": _get(rec, "recipe", "base_dir")},
    )


def load_run_model(source: RunSource | str | Path, *, device: str = "cpu") -> Any:
    """The run's trained model (a :class:`zoo.runner.model.TransferModel`) in eval mode, float32.

    Compression passes the run applied are not re-applied: exports start from the trained float
    weights (compress the export instead, e.g. with ``ort-dynamic-int8``).

    Raises:
        ExportError: the backbone's files differ from the ones the run used, or the saved weights
            do not fit the rebuilt model.
    """
    from safetensors.torch import load_file

    from ..builder import load_backbone
    from ..plugins import get_component, validate_options
    from ..models.transfer import TransferModel

    src = source if isinstance(source, RunSource) else read_run(source)
    encoder = load_backbone(src.backbone, device=device)
    used = {k: v for k, v in src.backbone_files.items() if k in encoder.resolved.sha256}
    changed = sorted(k for k, v in used.items() if encoder.resolved.sha256[k] != v)
    if changed or (src.backbone_revision and encoder.resolved.revision != src.backbone_revision):
        raise ExportError(f"registry entry {src.backbone!r} now resolves to other files than the run used "
                          f"({', '.join(changed) or 'another revision'}); restore the entry the run used.",
                          path=str(src.run_dir))
    if src.max_seq_length:
        encoder.set_max_seq_length(int(src.max_seq_length))
    comp = get_component("head", src.head)
    head = comp.obj(encoder.embedding_dim, src.num_classes, validate_options(comp, src.head_options))
    model = TransferModel(encoder, head)
    state = load_file(str(src.head_weights))
    try:
        model.head.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ExportError(f"head.safetensors does not fit head {src.head!r} with options {dict(src.head_options)}: "
                          f"{exc}", path=str(src.run_dir)) from None
    if src.backbone_weights is not None:
        trained = load_file(str(src.backbone_weights))
        params = dict(model.named_parameters())
        unknown = sorted(k for k in trained if k not in params)
        if unknown:
            raise ExportError(f"backbone-trainable.safetensors has tensors the model lacks: {unknown[:5]}",
                              path=str(src.run_dir))
        import torch

        with torch.no_grad():
            for k, v in trained.items():
                params[k].copy_(v)
    return model.to(device).eval()
