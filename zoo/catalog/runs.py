"""Read run records (``record.json`` in each run directory) and rank them by task and protocol.

Records are read as what the runner writes, :class:`zoo.runner.record.RunRecord` (a format this
zoo reads, every required key present); a file that is not one is skipped with a warning naming
it and the problem, never half-shown. What the catalog shows of a record:

    run_id, name (the recipe's), description, finished_at (else started_at),
    recipe {source, base_dir, overrides, resolved},
    backbone {name, repo_id, revision, files, weights_digest},
    dataset {name, loader, options, files [{role, path, sha256, size}], fingerprint, used},
    metrics {EVALUATOR: {accuracy, macro_f1, accuracy_ci95, ...}},
    evaluations {EVALUATOR: {details {protocol, ...}}}, environment, plugins, components,
    seed, device, training {history}

A dataset without a ``name`` is named after the folder holding its files (``banking77``), or
its loader's ``name`` option (``sklearn``: ``digits``), or its loader and fingerprint.

A run made by ``zoo reproduce`` re-runs the original's ``recipe.toml``, so its recipe source is
``<original run dir>/recipe.toml``: that is how a reproduction is told apart. Reproductions are
shown on the original's page and never ranked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePath
from typing import Any, Iterable, Mapping

from ..errors import RunRecordError
from ..runner.record import RunRecord

__all__ = ["collect_runs", "normalize_record", "leaderboards", "RANK_METRIC", "SUBSET_KEYS", "board_id"]

RANK_METRIC = "accuracy"
"""The metric leaderboards are sorted by (descending); rows without it sort last."""

SUBSET_KEYS = ("max_train", "max_validation", "max_test")
"""``[data]`` keys that make a run use a subset of the data; such runs are marked."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _recipe_name(record: Mapping[str, Any]) -> str:
    resolved = _table(_table(record.get("recipe")).get("resolved"))
    return _text(record.get("name") or resolved.get("name"))


def _dataset_name(dataset: dict[str, Any]) -> str:
    if isinstance(dataset.get("name"), str) and dataset["name"]:
        return dataset["name"]
    files = [f["path"] for f in _list(dataset.get("files")) if isinstance(f, dict) and isinstance(f.get("path"), str)]
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
    """``{evaluator: {metric: value}}`` (entries that are not tables are left out)."""
    return {str(k): dict(v) for k, v in _table(raw).items() if isinstance(v, dict)}


def _evaluators(record: dict[str, Any], metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per metrics key: the evaluator's component name, its recipe options and its protocol."""
    resolved = _table(_table(record.get("recipe")).get("resolved"))
    specs = [s for s in _list(resolved.get("evaluators")) if isinstance(s, dict)]
    evaluations = _table(record.get("evaluations"))
    out: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        name = _text(spec.get("name"))
        key = name if name not in seen else f"{name}.{i}"
        seen.setdefault(name, i)
        out[key] = {"name": name, "options": _table(spec.get("options"))}
    for key in metrics:
        entry = out.setdefault(key, {"name": key.split(".")[0] if key else "", "options": {}})
        details = _table(_table(evaluations.get(key)).get("details"))
        protocol = _text(details.get("protocol"))
        if key == "head" and not protocol:
            protocol = "trained head"
        entry["protocol"] = protocol
    return out


_RUN_ID = re.compile(r"^.+-\d{8}T\d{6}Z-[0-9a-f]{6}$")


def _reproduces(recipe: dict[str, Any]) -> str:
    """The run id a run reproduces: its recipe is ``<run directory>/recipe.toml`` of an earlier run
    (``zoo reproduce``); a user's own file that happens to be called recipe.toml is not one."""
    source = recipe.get("source")
    if isinstance(source, str):
        path = PurePath(source.replace("\\", "/"))
        if path.name == "recipe.toml" and _RUN_ID.match(path.parent.name):
            return path.parent.name
    return ""


def normalize_record(record: Mapping[str, Any], *, where: str = "") -> dict[str, Any]:
    """One :class:`~zoo.runner.record.RunRecord` (or its JSON object) reduced to the keys the
    catalog shows; a value of the wrong type shows as empty."""
    backbone, dataset = _table(record.get("backbone")), _table(record.get("dataset"))
    recipe = _table(record.get("recipe"))
    resolved = _table(recipe.get("resolved"))
    data = _table(resolved.get("data"))
    metrics = _metrics(record.get("metrics"))
    files = backbone.get("files")
    training = _table(record.get("training"))
    return {
        "run_id": _text(record.get("run_id")) or where,
        "recipe": _recipe_name(record),
        "description": _text(record.get("description")),
        "status": _text(record.get("status")),
        "created_utc": _text(record.get("finished_at") or record.get("started_at")),
        "started_at": _text(record.get("started_at")),
        "backbone": {
            "name": _text(backbone.get("name")),
            "repo_id": _text(backbone.get("repo_id")),
            "revision": _text(backbone.get("revision")),
            "files": {str(k): _text(v) for k, v in files.items()} if isinstance(files, dict) else {},
            "weights_digest": _text(backbone.get("weights_digest")),
        },
        "dataset": {
            "name": _dataset_name(dataset),
            "loader": _text(dataset.get("loader")),
            "fingerprint": _text(dataset.get("fingerprint")),
            "files": [{"role": _text(f.get("role")), "path": _text(f.get("path")), "sha256": _text(f.get("sha256")),
                       "size": f.get("size")} for f in _list(dataset.get("files")) if isinstance(f, dict)],
            "used": {str(k): _table(v) for k, v in _table(dataset.get("used")).items()},
            "num_classes": len(_list(dataset.get("label_names"))) or None,
        },
        "subset": {k: data[k] for k in SUBSET_KEYS if data.get(k) is not None},
        "metrics": metrics,
        "evaluators": _evaluators(record, metrics),
        "resolved": resolved,
        "overrides": [_text(o) for o in _list(recipe.get("overrides"))],
        "reproduces": _reproduces(recipe),
        "environment": _table(record.get("environment")),
        "plugins": [p for p in _list(record.get("plugins")) if isinstance(p, dict)],
        "components": {str(k): v for k, v in _table(record.get("components")).items() if isinstance(v, dict)},
        "seed": record.get("seed"),
        "device": _text(record.get("device")),
        "history": [h for h in _list(training.get("history")) if isinstance(h, dict)],
        "zoo_version": _text(record.get("zoo_version")),
        "reproductions": [],
        "dir": "",
    }


def _record_files(paths: Iterable[Path]) -> list[Path]:
    """``record.json`` files under ``paths``, leaving out interrupted runs (``*.partial`` directories)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files.extend(sorted(f for f in p.rglob("record.json")
                                if not any(part.endswith(".partial") for part in f.relative_to(p).parts[:-1])))
    return files


def collect_runs(paths: Iterable[Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every readable record under ``paths`` (files, run directories or folders of runs).

    Returns ``(records, warnings)``: unreadable files are skipped with a warning; a run id
    seen twice is kept once; interrupted runs (``*.partial`` folders) are not read. Records are
    sorted newest first; each original lists the run ids of its reproductions.
    """
    records: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for path in _record_files(paths):
        try:
            record = RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8")), path=str(path))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            warnings.append(f"{path}: skipped, not a readable JSON record ({exc})")
            continue
        except RunRecordError as exc:
            warnings.append(f"skipped: {exc}")
            continue
        rec = normalize_record(record, where=path.parent.name)
        rec["dir"] = str(path.parent)
        records.setdefault(rec["run_id"], rec)
    for rec in records.values():
        original = records.get(rec["reproduces"]) if rec["reproduces"] != rec["run_id"] else None
        if original is None:
            rec["reproduces"] = ""
        else:
            original["reproductions"].append(rec["run_id"])
    ordered = sorted(records.values(), key=lambda r: r["run_id"])
    ordered.sort(key=lambda r: r["created_utc"], reverse=True)
    return ordered, warnings


def _rank_key(row: dict[str, Any]) -> tuple[int, float]:
    value = row["metrics"].get(RANK_METRIC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, -float(value))
    return (1, 0.0)


def board_id(task: str, evaluator: str, protocol: str, options: dict[str, Any]) -> str:
    """A stable key of one leaderboard: the task, the evaluator and its protocol and options."""
    return json.dumps([task, evaluator, protocol, options], sort_keys=True, default=str)


def leaderboards(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One board per (task, evaluator, protocol, options), best ``accuracy`` first.

    Each board is ``{"task", "evaluator", "protocol", "options", "rows"}``; a row is one run's
    metrics of that evaluator. Reproductions are left out (they are shown on the original's page).
    """
    boards: dict[str, dict[str, Any]] = {}
    for rec in records:
        if rec["reproduces"]:
            continue
        for key, metrics in rec["metrics"].items():
            ev = rec["evaluators"].get(key, {"name": key, "options": {}, "protocol": ""})
            task = rec["dataset"]["name"]
            bid = board_id(task, ev["name"], ev.get("protocol", ""), ev["options"])
            board = boards.setdefault(bid, {"task": task, "evaluator": ev["name"], "protocol": ev.get("protocol", ""),
                                            "options": ev["options"], "rows": []})
            board["rows"].append({
                "run_id": rec["run_id"],
                "recipe": rec["recipe"],
                "created_utc": rec["created_utc"],
                "backbone": rec["backbone"]["name"],
                "revision": rec["backbone"]["revision"],
                "fingerprint": rec["dataset"]["fingerprint"],
                "evaluator": key,
                "subset": rec["subset"],
                "reproductions": len(rec["reproductions"]),
                "metrics": metrics,
            })
    for board in boards.values():
        board["rows"].sort(key=_rank_key)
    return sorted(boards.values(), key=lambda b: (b["task"].lower(), b["evaluator"], b["protocol"],
                                                  json.dumps(b["options"], sort_keys=True, default=str)))
