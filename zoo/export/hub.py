"""A run as a Hugging Face Hub repository, with its lineage; pushing it and loading it back.

:func:`export_hub` writes what a Hub repo holds:

=============================  ====================================================================
``model.safetensors``          the backbone under its Hugging Face names (``embeddings.*``,
                               ``encoder.layer.*``) and the trained head under ``head.*``
``config.json``                the backbone's config plus ``id2label``/``label2id`` and a
                               ``transferzoo`` section naming the head plugin and its options
tokenizer, pooling files       copied from the pinned backbone snapshot (``sentence_bert_config.json``
                               with the run's ``max_seq_length``)
``README.md``                  the model card: YAML metadata (base model and its pinned commit,
                               dataset files with sha256, metrics with 95% intervals, the recipe,
                               the zoo version, the lineage) and a short text
=============================  ====================================================================

beside them, ``registry-entry.toml`` (not uploaded) holds a registry entry listing every file with
its sha256 and a ``lineage`` table (parent entry, its commit, run id, recipe digest). :func:`push`
uploads the repo files with ``huggingface_hub`` to ``HF_ENDPOINT`` and completes the entry with the
repo id and the new commit; point ``ZOO_REGISTRY`` at it and the model resolves, verifies and loads
like any other entry: ``zoo.load_backbone(name)`` for embeddings, :func:`load_classifier` for labels.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ExportError, HubError
from .source import RunSource, load_run_model, read_run

__all__ = ["ENTRY_FILE", "HUB_FORMAT", "HubExport", "PushResult", "Classifier", "export_hub", "push",
           "load_classifier", "read_entry_file"]

ENTRY_FILE = "registry-entry.toml"
HUB_FORMAT = "zoo.hub/1"
_SKIP_FROM_BASE = ("config.json", "README.md", ".gitattributes")


@dataclass(frozen=True)
class HubExport:
    """An export directory: its files with their sha256, the entry name and the entry file."""

    path: Path
    name: str
    files: Mapping[str, str]
    entry_file: Path

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "name": self.name, "files": dict(self.files), "entry": str(self.entry_file)}


@dataclass(frozen=True)
class PushResult:
    """Where :func:`push` put the files: repo, commit, and the completed registry entry file."""

    repo_id: str
    revision: str
    endpoint: str
    name: str
    entry_file: Path
    files: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"repo_id": self.repo_id, "revision": self.revision, "endpoint": self.endpoint, "name": self.name,
                "entry": str(self.entry_file), "files": list(self.files)}


def _entry_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return name or "exported-model"


def _sha256(path: Path) -> str:
    from .._hashing import sha256_file

    return sha256_file(path)


def _write_json(path: Path, data: Any) -> None:
    from .._atomic import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# --- the model card -----------------------------------------------------------------------


def _metrics_yaml(metrics: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for evaluator, values in metrics.items():
        kept = {}
        for key, value in values.items():
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                kept[key] = value
            elif isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
                kept[key] = [float(v) for v in value]
        out[evaluator] = kept
    return out


def _card(src: RunSource, name: str, base: Any, lineage: Mapping[str, str]) -> str:
    import yaml

    from .. import __version__

    files = [{"role": f.get("role"), "file": Path(str(f.get("path"))).name, "sha256": f.get("sha256"),
              "size": f.get("size")} for f in src.dataset.get("files", []) if isinstance(f, Mapping)]
    head = src.metrics.get("head", {})
    meta = {
        "library_name": "transferzoo",
        "license": base.license,
        "base_model": base.repo_id,
        "base_model_relation": "finetune",
        "pipeline_tag": "text-classification",
        "tags": ["transferzoo", "text-classification", *base.tags],
        "transferzoo": {
            "format": HUB_FORMAT,
            "name": name,
            "zoo_version": __version__,
            "run_zoo_version": src.zoo_version,
            "base_model": {"name": base.name, "repo_id": base.repo_id, "revision": base.revision},
            "datasets": [{"loader": src.dataset.get("loader"), "fingerprint": src.dataset.get("fingerprint"),
                          "files": files}],
            "metrics": _metrics_yaml(src.metrics),
            "recipe": src.recipe,
            "recipe_digest": src.recipe_digest,
            "lineage": dict(lineage),
        },
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)
    acc, ci = head.get("accuracy"), head.get("accuracy_ci95")
    result = (f"Head accuracy on the {head.get('split', 'test')} split ({head.get('n', '?')} examples): "
              f"{acc:.4f}" + (f", 95% interval [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "") + "."
              if isinstance(acc, float) else "The run recorded no head metrics.")
    rows = "\n".join(f"| {ev} | {m.get('accuracy', float('nan')):.4f} | "
                     + (f"[{m['accuracy_ci95'][0]:.4f}, {m['accuracy_ci95'][1]:.4f}]" if m.get("accuracy_ci95") else "-")
                     + f" | {m.get('macro_f1', float('nan')):.4f} |"
                     for ev, m in src.metrics.items() if isinstance(m.get("accuracy"), float))
    return f"""---
{front}---

# {name}

A `{src.head}` head trained by transferzoo on `{base.name}`
([{base.repo_id}@{base.revision[:12]}](https://huggingface.co/{base.repo_id}/tree/{base.revision})), {len(src.label_names)}
classes. {src.description}

{result}

| evaluator | accuracy | 95% interval | macro-F1 |
|---|---|---|---|
{rows}

## Use

```python
from zoo.export import load_classifier

model = load_classifier("{name}")          # after `export ZOO_REGISTRY=.../{ENTRY_FILE}`
model.predict(["I still have not received my new card"])
```

## Lineage

- parent entry: `{lineage.get('parent')}` at commit `{lineage.get('commit')}`
- run: `{lineage.get('run_id')}`
- recipe digest (sha256 of the resolved recipe's canonical JSON): `{lineage.get('recipe_digest')}`
- zoo version: {__version__}
"""


# --- export -------------------------------------------------------------------------------


def _entry_table(name: str, base: Any, encoder: Any, files: Mapping[str, str], lineage: Mapping[str, str],
                 src: RunSource, license: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "architecture": base.architecture,
        "modality": base.modality,
        "license": license or base.license,
        "num_params": int(sum(p.numel() for p in encoder.model.parameters())),
        "embedding_dim": int(encoder.embedding_dim),
        "pooling": base.pooling,
        "normalize": base.normalize,
        "integrity": "verified",
        "description": f"{base.name} with a {src.head} head for {len(src.label_names)} classes, trained by zoo run "
                       f"{src.run_id}.",
        "tags": [*base.tags, "transferzoo-export", "classifier"],
        "input": {"max_seq_length": int(encoder.max_seq_length),
                  **({"text_prefix": base.input.text_prefix} if base.input.text_prefix else {})},
        "files": dict(files),
        "lineage": dict(lineage),
    }
    return entry


def _entry_toml(name: str, table: Mapping[str, Any], *, repo_id: str | None = None,
                revision: str | None = None) -> str:
    from .._toml import dumps

    body = dict(table)
    if repo_id is not None:
        body = {"repo_id": repo_id, "revision": revision, **body}
        head = f"# registry entry of {name}, pushed to {repo_id}@{revision}: add this file to ZOO_REGISTRY\n"
    else:
        head = (f"# registry entry of {name} (zoo export); `zoo push DIR --repo ID` adds repo_id and revision\n")
    return head + "schema = 1\n\n" + dumps({"backbone": {name: body}})


def read_entry_file(path: str | Path) -> tuple[str, dict[str, Any]]:
    """``(name, raw table)`` of the single entry in an export's ``registry-entry.toml``."""
    from .._toml import tomllib

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"no {ENTRY_FILE}; is this a directory written by `zoo export --format hub`?",
                          path=str(path.parent))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:  # not UTF-8 text, or not TOML
        raise ExportError(f"not a readable TOML file ({exc}); export the run again.", path=str(path)) from None
    tables = data.get("backbone", {})
    if len(tables) != 1:
        raise ExportError(f"expected exactly one [backbone.NAME] table, found {len(tables)}.", path=str(path))
    (name, raw), = tables.items()
    return name, dict(raw)


def export_hub(run_dir: str | Path, out_dir: str | Path, *, name: str | None = None, license: str | None = None,
               overwrite: bool = False) -> HubExport:
    """Write a run as a Hub repository directory plus its registry entry (see the module doc).

    Raises:
        ExportError: not a finished run with a head, or ``out_dir`` holds files (pass ``overwrite``).
        ZooError: the backbone cannot be resolved and verified as the run used it.
    """
    import torch

    from ..registry import backbone_info, parse_entry
    from ..weights import save_file_atomic
    from .._atomic import write_text_atomic

    src = read_run(run_dir)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ExportError("the directory is not empty; choose a new one or pass --overwrite.", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    name = _entry_name(name or src.name)
    model = load_run_model(src)
    encoder, resolved = model.backbone, model.backbone.resolved
    base = backbone_info(src.backbone)

    # weights: the encoder as a Hugging Face BertModel state dict, the head under head.
    tensors = {k: v.detach().cpu().contiguous() for k, v in encoder.model.state_dict().items()}
    tensors.update({f"head.{k}": v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()})
    meta = {"format": "pt", "zoo": json.dumps({"format": HUB_FORMAT, "run_id": src.run_id}, sort_keys=True)}
    save_file_atomic({k: v.to(torch.float32) if v.is_floating_point() else v for k, v in tensors.items()},
                     out / "model.safetensors", metadata=meta)

    config = json.loads(Path(resolved.files["config.json"]).read_text(encoding="utf-8"))
    config["id2label"] = {str(i): label for i, label in enumerate(src.label_names)}
    config["label2id"] = {label: i for i, label in enumerate(src.label_names)}
    config["transferzoo"] = {"format": HUB_FORMAT, "head": {"name": src.head, "options": dict(src.head_options),
                                                            "in_features": int(encoder.embedding_dim),
                                                            "num_classes": src.num_classes}}
    _write_json(out / "config.json", config)
    for filename, path in resolved.files.items():
        if filename in _SKIP_FROM_BASE or filename.endswith(".safetensors"):
            continue
        target = out / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        if filename == "sentence_bert_config.json":
            sbert = json.loads(Path(path).read_text(encoding="utf-8"))
            sbert["max_seq_length"] = int(encoder.max_seq_length)
            _write_json(target, sbert)
        else:
            shutil.copyfile(path, target)

    lineage = {"parent": base.name, "commit": resolved.revision, "run_id": src.run_id,
               "recipe_digest": src.recipe_digest}
    write_text_atomic(out / "README.md", _card(src, name, base, lineage))
    files = {p.relative_to(out).as_posix(): _sha256(p) for p in sorted(out.rglob("*"))
             if p.is_file() and p.name != ENTRY_FILE and not p.name.startswith(".")}
    table = _entry_table(name, base, encoder, files, lineage, src, license)
    # the entry must validate as it will once pushed (placeholder repo and commit, checked and dropped)
    parse_entry(name, {**table, "repo_id": "placeholder/repo", "revision": "0" * 40}, source=str(out / ENTRY_FILE))
    entry_file = out / ENTRY_FILE
    write_text_atomic(entry_file, _entry_toml(name, table))
    return HubExport(out, name, files, entry_file)


# --- push ---------------------------------------------------------------------------------


def push(export_dir: str | Path, repo_id: str, *, token: str | None = None, private: bool = False,
         registry: str | Path | None = None, message: str | None = None) -> PushResult:
    """Upload an export directory to ``HF_ENDPOINT`` as ``repo_id`` and complete its registry entry.

    Every file is re-hashed first and must match the entry (an edited export is refused). The
    entry file gets ``repo_id`` and the new commit; with ``registry`` a copy is written there too.

    Raises:
        ExportError: not an export directory, or a file changed since the export.
        HubError: offline mode, or the Hub refused the upload.
    """
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub import errors as hf_errors

    from ..config import settings
    from ..registry import parse_entry
    from .._atomic import write_text_atomic

    out = Path(export_dir)
    name, raw = read_entry_file(out / ENTRY_FILE)
    files: dict[str, str] = dict(raw.get("files", {}))
    changed = [f for f, sha in files.items() if not (out / f).is_file() or _sha256(out / f) != sha]
    if changed:
        raise ExportError(f"files changed or missing since the export: {changed}; export again.", path=str(out))
    s = settings()
    if s.offline:
        raise HubError("offline mode is on (ZOO_OFFLINE or HF_HUB_OFFLINE); `zoo push` needs the Hub.")
    api = HfApi(endpoint=s.hf_endpoint, token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        ops = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(out / f)) for f in sorted(files)]
        info = api.create_commit(repo_id, ops, commit_message=message or f"zoo export of run "
                                 f"{raw.get('lineage', {}).get('run_id', name)}")
    except hf_errors.HfHubHTTPError as exc:
        raise HubError(f"{s.hf_endpoint} refused the upload to {repo_id}: {exc}. Check the repo id and your "
                       f"token (HF_TOKEN or `hf auth login`).") from exc
    except (OSError, ValueError) as exc:
        raise HubError(f"could not upload to {s.hf_endpoint} ({repo_id}): {exc}. Check the network and HF_ENDPOINT.") \
            from exc
    revision = str(info.oid)
    text = _entry_toml(name, {k: v for k, v in raw.items() if k not in ("repo_id", "revision")},
                       repo_id=repo_id, revision=revision)
    parse_entry(name, {**raw, "repo_id": repo_id, "revision": revision}, source=str(out / ENTRY_FILE))
    write_text_atomic(out / ENTRY_FILE, text)
    if registry is not None:
        write_text_atomic(Path(registry), text)
    return PushResult(repo_id, revision, s.hf_endpoint, name, Path(registry) if registry else out / ENTRY_FILE,
                      tuple(sorted(files)))


# --- loading back -------------------------------------------------------------------------


class Classifier:
    """A transfer model with its label names: ``predict(texts)`` -> labels, ``logits(texts)``."""

    def __init__(self, model: Any, label_names: Sequence[str]):
        self.model, self.label_names = model, tuple(label_names)

    def logits(self, texts: Sequence[str], *, batch_size: int = 32) -> Any:
        from ..runner.train import predict

        return predict(self.model, list(texts), batch_size=batch_size)

    def predict(self, texts: Sequence[str], *, batch_size: int = 32) -> list[str]:
        return [self.label_names[i] for i in self.logits(texts, batch_size=batch_size).argmax(1)]


def load_classifier(name: str, *, device: str = "cpu") -> Classifier:
    """Load an exported model through the registry: the verified backbone plus its head and labels.

    Raises:
        UnknownBackboneError, HubError, IntegrityError: as :func:`zoo.load_backbone`.
        ExportError: the entry's files carry no zoo head (not written by ``zoo export --format hub``).
    """
    from safetensors.torch import load_file

    from ..builder import load_backbone
    from ..plugins import get_component, validate_options
    from ..models.transfer import TransferModel

    encoder = load_backbone(name, device=device)
    files = encoder.resolved.files
    config = json.loads(Path(files["config.json"]).read_text(encoding="utf-8"))
    head_cfg = (config.get("transferzoo") or {}).get("head")
    if not head_cfg:
        raise ExportError(f"entry {name!r} has no transferzoo head in its config.json; load it with "
                          f"zoo.load_backbone for embeddings.", path=str(files["config.json"]))
    comp = get_component("head", head_cfg["name"])
    head = comp.obj(int(head_cfg["in_features"]), int(head_cfg["num_classes"]),
                    validate_options(comp, head_cfg.get("options") or {}))
    weights = next(p for f, p in files.items() if f.endswith(".safetensors"))
    state = {k[len("head."):]: v for k, v in load_file(str(weights)).items() if k.startswith("head.")}
    head.load_state_dict(state, strict=True)
    labels = [config["id2label"][str(i)] for i in range(int(head_cfg["num_classes"]))]
    return Classifier(TransferModel(encoder, head).to(device).eval(), labels)
