"""Helpers shared by the catalog tests: realistic run records and an extra in-memory plugin."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo import hookimpl

__all__ = ["write_run", "write_runs", "ExtraPlugin", "catalog_manager", "IMAGE_BACKBONE"]

MINILM_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
MINILM_WEIGHTS = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def write_run(root: Path, *, run_id: str, backbone: str, revision: str, data_dir: str, metrics: dict[str, Any],
              finished_at: str, recipe: str = "banking77-probe") -> Path:
    """A finished run directory with a ``record.json`` shaped like the runner's (zoo/runner/run.py)."""
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    record = {
        "format": 1,
        "run_id": run_id,
        "name": recipe,
        "description": "frozen backbone + logistic probe",
        "status": "complete",
        "started_at": finished_at.replace(":41Z", ":12Z"),
        "finished_at": finished_at,
        "recipe": {
            "source": f"/home/user/experiments/{recipe}.toml",
            "base_dir": "/home/user/experiments",
            "overrides": [],
            "resolved": {"name": recipe, "backbone": {"name": backbone},
                         "data": {"loader": "csv", "options": {"train": f"{data_dir}/train.csv",
                                                               "test": f"{data_dir}/test.csv",
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
        "seed": 0,
        "device": "cpu",
        "metrics": metrics,
        "timings": {"total": 41.2},
        "zoo_version": "0.1.0",
    }
    (run_dir / "record.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return run_dir


def write_runs(root: Path) -> Path:
    """Three runs: two Banking77 probes of all-minilm-l6-v2 and one of another backbone, plus debris."""
    write_run(root, run_id="banking77-probe-20261127T101500Z-a1b2c3", backbone="all-minilm-l6-v2",
              revision=MINILM_REVISION, data_dir="banking77", finished_at="2026-11-27T10:15:41Z",
              metrics={"logistic-probe": {"accuracy": 0.8149, "macro_f1": 0.8121,
                                          "accuracy_ci95": [0.8013, 0.8286], "macro_f1_ci95": [0.798, 0.826]}})
    write_run(root, run_id="banking77-probe-20261128T090000Z-d4e5f6", backbone="all-minilm-l6-v2",
              revision=MINILM_REVISION, data_dir="banking77", finished_at="2026-11-28T09:00:41Z",
              metrics={"head": {"accuracy": 0.7011, "macro_f1": 0.6902, "accuracy_ci95": [0.684, 0.717],
                                "split": "test"}})
    write_run(root, run_id="mr-probe-20261128T120000Z-0a0b0c", backbone="not-in-registry",
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
