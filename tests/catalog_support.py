"""Helpers shared by the catalog tests: realistic run records and an extra in-memory plugin."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo import hookimpl

__all__ = ["write_run", "write_runs", "ExtraPlugin", "catalog_manager", "IMAGE_BACKBONE", "RUN_IDS", "REPRODUCTION_ID",
           "build_test_site", "HOSTILE_DOC"]

MINILM_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
MINILM_WEIGHTS = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def write_run(root: Path, *, run_id: str, backbone: str, revision: str, data_dir: str, metrics: dict[str, Any],
              finished_at: str, recipe: str = "banking77-probe", data_extra: dict[str, Any] | None = None,
              source: str | None = None, history: list[dict[str, Any]] | None = None,
              confusion: tuple[list[str], list[list[int]]] | None = None) -> Path:
    """A finished run directory with a ``record.json`` as the runner writes it (a complete format 2
    :class:`zoo.runner.record.RunRecord`; the catalog reads nothing less)."""
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    record = {
        "format": 2,
        "run_id": run_id,
        "name": recipe,
        "description": "frozen backbone + logistic probe",
        "status": "complete",
        "started_at": finished_at.replace(":41Z", ":12Z"),
        "finished_at": finished_at,
        "recipe": {
            "source": source or f"/home/user/experiments/{recipe}.toml",
            "base_dir": "/home/user/experiments",
            "overrides": [],
            "resolved": {"name": recipe, "backbone": {"name": backbone},
                         "data": {"loader": "csv", **(data_extra or {}),
                                  "options": {"train": f"{data_dir}/train.csv", "test": f"{data_dir}/test.csv",
                                              "label_column": "category"}},
                         "evaluators": [{"name": "logistic-probe"}]},
        },
        "backbone": {"name": backbone, "repo_id": "sentence-transformers/all-MiniLM-L6-v2", "revision": revision,
                     "files": {"model.safetensors": MINILM_WEIGHTS}, "weights_digest": MINILM_WEIGHTS},
        "dataset": {
            "loader": "csv",
            "options": {"train": f"{data_dir}/train.csv", "test": f"{data_dir}/test.csv", "label_column": "category"},
            "files": [
                {"role": "train", "path": f"/home/user/data/{data_dir}/train.csv", "sha256": "ab" * 32, "size": 674812},
                {"role": "test", "path": f"/home/user/data/{data_dir}/test.csv", "sha256": "cd" * 32, "size": 207101},
            ],
            "extra": {},
            "seed": None,
            "fingerprint": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "label_names": ["activate_my_card", "age_limit"],
            "modality": "text",
            "splits": {"train": {"n": 10003, "fingerprint": "11" * 32}, "test": {"n": 3080, "fingerprint": "22" * 32}},
        },
        "options": {"evaluators": [{"name": "logistic-probe", "options": {"C": "auto", "max_iter": 1000}}]},
        "components": {"evaluator.0": {"name": "logistic-probe", "plugin": "zoo.default_plugins.probes"}},
        "seed": 0,
        "device": "cpu",
        "determinism": {"seed": 0, "deterministic_algorithms": True, "threads": 1},
        "freezing": {"name": "all-but-head", "trainable": 0},
        "compression": {},
        "feature_cache": {"hits": 2, "misses": 0},
        "artifacts": {"report": "report.md"},
        "metrics": metrics,
        "timings": {"total": 41.2},
        "zoo_version": "0.1.0",
        "environment": {"python": "3.11.2", "torch": "2.13.0+cpu", "platform": "Linux-6.1-x86_64"},
        "plugins": [{"name": "zoo.default_plugins.probes", "distribution": None, "version": None, "builtin": True}],
        "evaluations": {k: {"details": {"protocol": "standard"}} for k in metrics if k != "head"},
        "training": {"history": history} if history else None,
    }
    (run_dir / "record.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    if confusion is not None:
        names, matrix = confusion
        key = next(iter(metrics))
        (run_dir / "confusion.json").write_text(json.dumps({"label_names": names, "matrices": {key: matrix}}),
                                                encoding="utf-8")
    return run_dir


RUN_IDS = ("banking77-probe-20261127T101500Z-a1b2c3", "banking77-probe-20261128T090000Z-d4e5f6",
           "mr-probe-20261128T120000Z-0a0b0c", "banking77-probe-20261129T080000Z-5e5e5e")
"""The runs of :func:`write_runs`, ranked ones first; the last one ran on a subset."""
REPRODUCTION_ID = "banking77-probe-20261130T080000Z-9f9f9f"

# 25 classes: above the 20 the report names on the matrix's axes, so the page lists confused pairs
_CLASSES = [f"intent_{i:02d}" for i in range(25)]
_MATRIX = [[(8 if i == j else (3 if j == (i + 1) % 25 and i < 3 else 0)) for j in range(25)] for i in range(25)]


def write_runs(root: Path) -> Path:
    """Two Banking77 probes of all-minilm-l6-v2, one of another backbone, a subset run, a reproduction, debris."""
    first = write_run(root, run_id=RUN_IDS[0], backbone="all-minilm-l6-v2",
                      revision=MINILM_REVISION, data_dir="banking77", finished_at="2026-11-27T10:15:41Z",
                      metrics={"logistic-probe": {"accuracy": 0.8149, "macro_f1": 0.8121,
                                                  "accuracy_ci95": [0.8013, 0.8286], "macro_f1_ci95": [0.798, 0.826]}},
                      confusion=(_CLASSES, _MATRIX))
    write_run(root, run_id=RUN_IDS[1], backbone="all-minilm-l6-v2",
              revision=MINILM_REVISION, data_dir="banking77", finished_at="2026-11-28T09:00:41Z",
              metrics={"head": {"accuracy": 0.7011, "macro_f1": 0.6902, "accuracy_ci95": [0.684, 0.717],
                                "split": "test"}},
              history=[{"epoch": 0, "train_loss": 2.1, "val_loss": 1.9, "val_accuracy": 0.52},
                       {"epoch": 1, "train_loss": 1.2, "val_loss": 1.3, "val_accuracy": 0.66}],
              confusion=(["activate_my_card", "age_limit", "card_arrival"], [[30, 2, 1], [4, 25, 0], [0, 3, 28]]))
    write_run(root, run_id=RUN_IDS[3], backbone="all-minilm-l6-v2",
              revision=MINILM_REVISION, data_dir="banking77", finished_at="2026-11-29T08:00:41Z",
              metrics={"logistic-probe": {"accuracy": 0.9001, "macro_f1": 0.9}},
              data_extra={"max_train": 500, "max_test": 200})
    write_run(root / "reproductions", run_id=REPRODUCTION_ID, backbone="all-minilm-l6-v2",
              revision=MINILM_REVISION, data_dir="banking77", finished_at="2026-11-30T08:00:41Z",
              metrics={"logistic-probe": {"accuracy": 0.8149, "macro_f1": 0.8121}},
              source=str(first / "recipe.toml"))
    write_run(root, run_id=RUN_IDS[2], backbone="not-in-registry",
              revision="0" * 40, data_dir="MR", finished_at="2026-11-28T12:00:41Z", recipe="mr-probe",
              metrics={"logistic-probe": {"accuracy": 0.7315, "macro_f1": 0.7301}})
    (root / "broken-run").mkdir()
    (root / "broken-run" / "record.json").write_text("{not json", encoding="utf-8")
    return root


@dataclass(frozen=True)
class CosineOptions:
    """Options of the ``cosine`` head."""

    scale: float = field(default=16.0, metadata={"help": "temperature applied to the cosine logits"})
    learn_scale: bool = field(default=False, metadata={"help": "learn the scale with the head"})


def build_cosine(in_features: int, num_classes: int, options: Any = None) -> Any:
    """A cosine-similarity classifier head (test double: never built here)."""
    raise NotImplementedError


IMAGE_BACKBONE = {
    "name": "tiny-vit-example",
    "architecture": "vit",
    "repo_id": "example-org/tiny-vit-example",
    "revision": "89abcdef0123456789abcdef0123456789abcdef",
    "integrity": "tofu",
    "files": {"model.safetensors": "tofu", "config.json": "tofu"},
    "modality": "image",
    "license": "cc-by-4.0",
    "num_params": 5_700_000,
    "embedding_dim": 192,
    "description": "A tiny vision transformer contributed by a plugin <script>alert(1)</script> for catalog tests.",
    "tags": ["vision", "patch16"],
    "paper": "javascript:alert(document.domain)",
    "input": {"image_size": [224, 224], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
}


class ExtraPlugin:
    """An in-memory third-party plugin: a head with options and an image backbone."""

    @hookimpl
    def register_heads(self, register):
        register("cosine", build_cosine, options=CosineOptions)

    @hookimpl
    def register_backbones(self, register):
        register(dict(IMAGE_BACKBONE))


def catalog_manager(*extra: Any):
    """A fresh plugin manager: the builtins (with the catalog command) and the given plugins."""
    from zoo.config import settings
    from zoo.plugins import DEFAULT_PLUGINS, make_manager

    builtins = DEFAULT_PLUGINS if "catalog_commands" in DEFAULT_PLUGINS else (*DEFAULT_PLUGINS, "catalog_commands")
    pm = make_manager(builtins=builtins, entry_points=False, settings=settings({}))
    for i, plugin in enumerate(extra):
        pm.register(plugin, f"extra-plugin-{i}" if i else "extra-plugin", distribution="zoo-extra-test",
                    version="0.3.1")
    return pm


HOSTILE_DOC = """# Links from a guide page

A [script link](javascript:alert(1)), a [data link](data:text/html,hi), a
[vbscript link](vbscript:msgbox), a [fine link](https://example.org/) and a [page](quickstart.md).

<a href="javascript:alert(2)">raw anchor</a>
"""


def build_test_site(base: Path, *, docs: Path) -> tuple[Path, Any]:
    """The site the catalog tests share (one Sphinx build per session): every builtin, an extra
    plugin with a hostile backbone entry, the runs of :func:`write_runs`, the guide plus a page with
    unsafe links, and the API reference. Returns the site folder and the build report."""
    import shutil

    from zoo.catalog import build_site
    from zoo.config import settings
    from zoo.plugins import list_backbone_tables
    from zoo.registry import build_registry

    guide = base / "docs"
    shutil.copytree(docs, guide)
    (guide / "unsafe-links.md").write_text(HOSTILE_DOC, encoding="utf-8")
    pm = catalog_manager(ExtraPlugin())
    registry = build_registry(settings=settings({}), plugin_tables=lambda: list_backbone_tables(manager=pm))
    report = build_site(base / "site", runs=[write_runs(base / "runs")], docs_dir=guide, manager=pm,
                        registry=registry)
    return base / "site", report
