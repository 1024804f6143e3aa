"""Read run records (``record.json`` in each run directory) and rank them per dataset.

A record is read leniently: the catalog shows whatever is there and never fails on a record
from an older or newer runner. The keys used, all optional (see :mod:`zoo.runner.record`)::

    run_id, name (the recipe's), created_utc | finished_at | started_at,
    recipe (a name, or a table with "name" or "resolved" = the recipe itself),
    backbone {name, repo_id, revision, files | sha256},
    dataset {name, loader, options, files [{path, ...}], fingerprint},
    metrics {EVALUATOR: {accuracy, macro_f1, accuracy_ci95 | ci95, ...}}

A dataset without a ``name`` is named after the folder holding its files (``banking77``), or
its loader's ``name`` option (``sklearn``: ``digits``), or its loader and fingerprint.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from typing import Any, Iterable

__all__ = ["collect_runs", "normalize_record", "leaderboards", "RANK_METRIC"]

RANK_METRIC = "accuracy"
"""The metric leaderboards are sorted by (descending); rows without it sort last."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _recipe_name(record: dict[str, Any]) -> str:
    recipe = record.get("recipe")
    if isinstance(recipe, dict):
        resolved = _table(recipe.get("resolved"))
        name = recipe.get("name") or resolved.get("name") or record.get("name")
        if not name and isinstance(recipe.get("source"), str):
            name = PurePath(recipe["source"]).stem
        return _text(name)
    return _text(recipe or record.get("recipe_name") or record.get("name"))


def _dataset_name(dataset: dict[str, Any]) -> str:
    if isinstance(dataset.get("name"), str) and dataset["name"]:
        return dataset["name"]
    files = [f["path"] for f in dataset.get("files") or () if isinstance(f, dict) and isinstance(f.get("path"), str)]
    parents = {PurePath(p.replace("\\", "/")).parent.name for p in files}
    if len(parents) == 1 and "" not in parents:
        return parents.pop()
    options = dataset.get("options")
    if isinstance(options, dict) and isinstance(options.get("name"), str) and options["name"]:
        return options["name"]
    loader, fingerprint = _text(dataset.get("loader")), _text(dataset.get("fingerprint"))
    if loader:
        return f"{loader} {fingerprint[:8]}".strip()
    return "(unnamed dataset)"


def _metrics(raw: Any) -> dict[str, dict[str, Any]]:
    """``{evaluator: {metric: value}}``; a flat ``{metric: number}`` table becomes one evaluator ``""``."""
    raw = _table(raw)
    nested = {k: dict(v) for k, v in raw.items() if isinstance(v, dict)}
    flat = {k: v for k, v in raw.items() if not isinstance(v, dict)}
    if flat:
        nested.setdefault("", {}).update(flat)
    return nested


def normalize_record(record: dict[str, Any], *, where: str = "") -> dict[str, Any]:
    """One record reduced to the keys the catalog shows, with safe defaults."""
    backbone, dataset = _table(record.get("backbone")), _table(record.get("dataset"))
    return {
        "run_id": _text(record.get("run_id")) or where,
        "recipe": _recipe_name(record),
        "created_utc": _text(record.get("created_utc") or record.get("finished_at") or record.get("started_at")),
        "backbone": {
            "name": _text(backbone.get("name")),
            "repo_id": _text(backbone.get("repo_id")),
            "revision": _text(backbone.get("revision")),
            "sha256": next((v for v in (backbone.get("files"), backbone.get("sha256"))
                            if isinstance(v, (str, dict))), None),
        },
        "dataset": {"name": _dataset_name(dataset), "fingerprint": _text(dataset.get("fingerprint"))},
        "metrics": _metrics(record.get("metrics")),
    }


def _record_files(paths: Iterable[Path]) -> list[Path]:
    """``record.json`` files under ``paths``, leaving out interrupted runs (``*.partial`` directories)."""
    from ..runner.record import PARTIAL_SUFFIX

    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files.extend(sorted(p.rglob("record.json")))
    return [f for f in files if not any(part.endswith(PARTIAL_SUFFIX) for part in f.parent.parts)]


def collect_runs(paths: Iterable[Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every readable record under ``paths`` (files, run directories or folders of runs).

    Returns ``(records, warnings)``: unreadable files are skipped with a warning; a run id
    seen twice is kept once. Records are sorted newest first.
    """
    records: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for path in _record_files(paths):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            warnings.append(f"{path}: skipped, not a readable JSON record ({exc})")
            continue
        if not isinstance(data, dict):
            warnings.append(f"{path}: skipped, a record is a JSON object")
            continue
        rec = normalize_record(data, where=path.parent.name)
        records.setdefault(rec["run_id"], rec)
    ordered = sorted(records.values(), key=lambda r: r["run_id"])
    ordered.sort(key=lambda r: r["created_utc"], reverse=True)
    return ordered, warnings


def _rank_key(row: dict[str, Any]) -> tuple[int, float]:
    value = row["metrics"].get(RANK_METRIC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, -float(value))
    return (1, 0.0)


def leaderboards(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``{dataset name: rows}``: one row per (run, evaluator), best ``accuracy`` first."""
    boards: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        for evaluator, metrics in rec["metrics"].items():
            boards.setdefault(rec["dataset"]["name"], []).append({
                "run_id": rec["run_id"],
                "recipe": rec["recipe"],
                "created_utc": rec["created_utc"],
                "backbone": rec["backbone"]["name"],
                "revision": rec["backbone"]["revision"],
                "fingerprint": rec["dataset"]["fingerprint"],
                "evaluator": evaluator,
                "metrics": metrics,
            })
    for rows in boards.values():
        rows.sort(key=_rank_key)
    return dict(sorted(boards.items()))
