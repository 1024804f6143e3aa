"""``zoo reproduce RUN_DIR``: re-run a recorded run and compare.

The inputs are checked first: the backbone's files (repo, commit and each file's sha256) and the
dataset's files (each sha256) must be those of the record, or :class:`ReproducibilityError` is
raised before any work. Then the resolved recipe is run again with the recorded seed and thread
count, and the new metrics and weight files are compared with the record's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ReproducibilityError

__all__ = ["ReproduceResult", "MetricDiff", "reproduce", "check_inputs", "compare_metrics"]


@dataclass(frozen=True)
class MetricDiff:
    key: str
    recorded: Any
    reproduced: Any

    @property
    def delta(self) -> float | None:
        if isinstance(self.recorded, (int, float)) and isinstance(self.reproduced, (int, float)):
            return float(self.reproduced) - float(self.recorded)
        return None


@dataclass(frozen=True)
class ReproduceResult:
    """The comparison of a run with its re-run."""

    original: Path
    rerun: Path
    metric_diffs: tuple[MetricDiff, ...]
    metrics_compared: int
    artifacts: dict[str, bool]
    warnings: tuple[str, ...] = field(default=())

    @property
    def metrics_identical(self) -> bool:
        return not self.metric_diffs

    @property
    def weights_identical(self) -> bool:
        return all(self.artifacts.values())

    @property
    def identical(self) -> bool:
        return self.metrics_identical and self.weights_identical

    def to_dict(self) -> dict[str, Any]:
        return {
            "original": str(self.original),
            "rerun": str(self.rerun),
            "identical": self.identical,
            "metrics_identical": self.metrics_identical,
            "metrics_compared": self.metrics_compared,
            "metric_diffs": [{"key": d.key, "recorded": d.recorded, "reproduced": d.reproduced, "delta": d.delta}
                             for d in self.metric_diffs],
            "artifacts_byte_identical": self.artifacts,
            "warnings": list(self.warnings),
        }

    def format(self) -> str:
        lines = [f"reproduced {self.original}", f"       as {self.rerun}"]
        lines += [f"warning: {w}" for w in self.warnings]
        if self.metrics_identical:
            lines.append(f"metrics: identical ({self.metrics_compared} values compared)")
        else:
            lines.append(f"metrics: {len(self.metric_diffs)} of {self.metrics_compared} values differ")
            for d in self.metric_diffs:
                delta = f" ({d.delta:+.6g})" if d.delta is not None else ""
                lines.append(f"  {d.key}: recorded {d.recorded!r}, reproduced {d.reproduced!r}{delta}")
        for name, same in self.artifacts.items():
            lines.append(f"{name}: {'byte-identical' if same else 'DIFFERENT'}")
        if not self.artifacts:
            lines.append("weights: the run trained no head (nothing to compare)")
        lines.append("result: " + ("IDENTICAL" if self.identical else "DIFFERENT"))
        return "\n".join(lines)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, (list, tuple)) and value and all(not isinstance(v, (Mapping, list)) for v in value):
        return {f"{prefix}[{i}]": v for i, v in enumerate(value)}
    return {prefix: value}


def compare_metrics(recorded: Mapping[str, Any], reproduced: Mapping[str, Any]) -> tuple[list[MetricDiff], int]:
    """Exact comparison of two metric trees (timings are not metrics and are not in them)."""
    a, b = _flatten(recorded), _flatten(reproduced)
    diffs = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        same = x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        if not same:
            diffs.append(MetricDiff(key, x, y))
    return diffs, len(set(a) | set(b))


def check_edits(record: Any, run_dir: Path) -> list[str]:
    """What changed since the run besides its inputs: plugin versions, and an edited ``recipe.toml``
    in the run directory (the re-run uses the record's options, not that file). One line each."""
    from .._hashing import sha256_file
    from .record import plugin_versions

    found = []
    now = {p["name"]: p.get("version") for p in plugin_versions()}
    for p in record.get("plugins") or []:
        name, then = p.get("name"), p.get("version")
        if name not in now:
            found.append(f"plugin {name!r} ({then}) used by the run is not loaded now")
        elif now[name] != then:
            found.append(f"plugin {name!r} is version {now[name]} now, the run used {then}")
    recorded = (record.get("recipe") or {}).get("sha256")
    path = run_dir / "recipe.toml"
    if recorded and (not path.is_file() or sha256_file(path) != recorded):
        found.append(f"{path} was edited or removed after the run; the re-run uses the options in record.json")
    return found


def check_inputs(record: Mapping[str, Any]) -> list[str]:
    """Verify the record's inputs are unchanged; return warnings for what may differ but is allowed.

    Raises:
        ReproducibilityError: a backbone or dataset file's hash (or the backbone's commit) differs.
    """
    from .._hashing import sha256_file
    from ..registry import backbone_info

    problems: list[str] = []
    b = record["backbone"]
    entry = backbone_info(b["name"])
    if (entry.repo_id, entry.revision) != (b["repo_id"], b["revision"]):
        problems.append(f"backbone {b['name']!r} now resolves to {entry.repo_id}@{entry.revision}, "
                        f"the run used {b['repo_id']}@{b['revision']}")
    pinned = {f.filename: f.sha256 for f in entry.files if f.sha256}
    for filename, digest in b["files"].items():
        if filename in pinned and pinned[filename] != digest:
            problems.append(f"backbone file {filename}: registry pins sha256 {pinned[filename]}, "
                            f"the run used {digest}")
    for f in record["dataset"].get("files", []):
        path = Path(f["path"])
        if not path.is_file():
            problems.append(f"dataset file {f['role']} ({path}) is missing")
            continue
        now = sha256_file(path)
        if now != f["sha256"]:
            problems.append(f"dataset file {f['role']} ({path}) has sha256 {now}, the run used {f['sha256']}")
    if problems:
        raise ReproducibilityError(
            "cannot reproduce: an input differs from the record.\n  " + "\n  ".join(problems)
            + "\nRestore the original inputs (the record lists every hash), or start a new run instead."
        )
    from .. import __version__

    warnings = []
    if record.get("zoo_version") != __version__:
        warnings.append(f"zoo {__version__} re-runs a record written by zoo {record.get('zoo_version')}")
    import torch

    env = record.get("environment", {})
    if env.get("torch") and env["torch"] != torch.__version__:
        warnings.append(f"torch {torch.__version__} re-runs a record written with torch {env['torch']}")
    return warnings


def reproduce(run_dir: str | Path, *, output_dir: Path | None = None, progress: bool = False,
              verbose: bool = False, strict: bool = False) -> ReproduceResult:
    """Re-run ``run_dir`` with the options its record holds (defaults included) and compare
    metrics and weight files.

    The re-run goes to ``output_dir`` (default: ``<run_dir's parent>/reproductions``). Changed
    plugin versions and an edited ``recipe.toml`` are warnings; with ``strict`` they refuse.

    Raises:
        RunRecordError: ``run_dir`` is not a finished run directory with a complete record.
        ReproducibilityError: an input's hash differs from the record (checked before any work),
            or, with ``strict``, a plugin version or the run's ``recipe.toml`` changed.
    """
    from .recipe import recipe_from_dict
    from .record import load_record
    from .run import run_recipe

    run_dir = Path(run_dir)
    record = load_record(run_dir)
    warnings = check_inputs(record)
    edits = check_edits(record, run_dir)
    if edits and strict:
        raise ReproducibilityError("cannot reproduce in strict mode: " + "; ".join(edits)
                                   + ". Restore them, or reproduce without --strict.")
    warnings += edits
    if record["format"] < 2:
        warnings.append(f"record format {record['format']} holds no option defaults; today's defaults fill them in")
    raw = dict(record["options"])
    raw.pop("sweep", None)
    raw["threads"] = record["determinism"]["threads"]
    raw = _without_none(raw)
    rec = record["recipe"]
    recipe = recipe_from_dict(raw, source=str(run_dir / "record.json"), base_dir=Path(rec["base_dir"]))
    if record["device"] and not str(record["device"]).startswith("cpu"):
        warnings.append(f"the run used device {record['device']}; bit-identical results are promised on CPU only")
    result = run_recipe(recipe, output_dir=output_dir or run_dir.parent / "reproductions",
                        progress=progress, verbose=verbose)
    diffs, compared = compare_metrics(record["metrics"], result.record["metrics"])
    artifacts = {}
    for name, digest in record["artifacts"].items():
        artifacts[name] = result.record["artifacts"].get(name) == digest and (
            (run_dir / name).read_bytes() == (result.run_dir / name).read_bytes())
    return ReproduceResult(run_dir, result.run_dir, tuple(diffs), compared, artifacts, tuple(warnings))


def _without_none(value: Any) -> Any:
    """Recorded options without null values (a None option is its default, "none"; the recipe
    format has no null)."""
    if isinstance(value, Mapping):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value
