"""Validate raw registry tables (from TOML or a plugin) into :class:`BackboneEntry` objects.

Every problem raises :class:`RegistryValidationError` naming the source, the entry,
the key, and the fix.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

from .._paths import repo_name_problem
from ..errors import RegistryValidationError, did_you_mean
from .entry import BackboneEntry, FileSpec, InputSpec, Lineage, Reference

__all__ = ["parse_entry", "parse_registry", "NAME_RE", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")

# key -> (python type(s), required)
_ENTRY_KEYS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "architecture": (str, True),
    "repo_id": (str, True),
    "revision": (str, True),
    "files": (dict, True),
    "modality": (str, True),
    "license": (str, True),
    "num_params": (int, True),
    "embedding_dim": (int, True),
    "input": (dict, False),
    "pooling": (str, False),
    "normalize": (bool, False),
    "integrity": (str, False),
    "description": (str, False),
    "tags": (list, False),
    "references": (list, False),
    "paper": (str, False),
    "lineage": (dict, False),
    "override": (bool, False),
}
_INPUT_KEYS: dict[str, type | tuple[type, ...]] = {
    "max_seq_length": int,
    "text_prefix": str,
    "image_size": list,
    "mean": list,
    "std": list,
    "interpolation": str,
    "crop_pct": (int, float),
    "channels": int,
}
_REFERENCE_KEYS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "task": (str, True),
    "metric": (str, True),
    "value": ((int, float), True),
    "source": (str, True),
    "protocol": (str, False),
}
# key -> the pattern its value must match when it is set (None: any string)
_LINEAGE_KEYS: dict[str, re.Pattern[str] | None] = {
    "parent": NAME_RE,
    "commit": COMMIT_RE,
    "run_id": None,
    "recipe_digest": SHA256_RE,
    "source": None,
    "source_sha256": SHA256_RE,
}
_CHOICES = {
    "modality": ("text", "image", "vector"),
    "pooling": ("mean", "cls", "max"),
    "integrity": ("verified", "tofu"),
}
_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", dict: "a table", list: "an array"}


def _tname(t: type | tuple[type, ...]) -> str:
    if isinstance(t, tuple):
        return " or ".join(_TYPE_NAMES.get(x, x.__name__) for x in t)
    return _TYPE_NAMES.get(t, t.__name__)


def _check_keys(table: Mapping[str, Any], allowed, *, source: str, entry: str, prefix: str = "") -> None:
    for key in table:
        if key not in allowed:
            raise RegistryValidationError(
                f"unknown key.{did_you_mean(key, list(allowed))} Allowed keys: {', '.join(sorted(allowed))}.",
                source=source, entry=entry, key=prefix + key,
            )


def _check_type(value: Any, expected, *, source: str, entry: str, key: str) -> None:
    ok = isinstance(value, expected) and not (isinstance(value, bool) and expected in (int, (int, float)))
    if not ok:
        raise RegistryValidationError(
            f"expected {_tname(expected)}, got {type(value).__name__} {value!r}.", source=source, entry=entry, key=key
        )


def _files(raw: Mapping[str, Any], integrity: str, *, source: str, entry: str) -> tuple[FileSpec, ...]:
    if not raw:
        raise RegistryValidationError("an entry needs at least one file.", source=source, entry=entry, key="files")
    specs = []
    for filename, sha in raw.items():
        key = f"files.{filename}"
        problem = repo_name_problem(filename)
        if problem is not None:
            raise RegistryValidationError(f"file name {filename!r} {problem}.", source=source, entry=entry, key=key)
        _check_type(sha, str, source=source, entry=entry, key=key)
        sha = sha.lower().removeprefix("sha256:")
        if sha in ("", "tofu"):
            if integrity != "tofu":
                raise RegistryValidationError(
                    "missing sha256. Add the file's sha256 (`sha256sum FILE`), or mark the entry "
                    "`integrity = \"tofu\"` to record it in the lock file on first download.",
                    source=source, entry=entry, key=key,
                )
            specs.append(FileSpec(filename, None))
        elif SHA256_RE.match(sha):
            specs.append(FileSpec(filename, sha))
        else:
            raise RegistryValidationError(
                f"{sha!r} is not a sha256 (64 lowercase hex digits).", source=source, entry=entry, key=key
            )
    if not any(s.is_weights for s in specs):
        raise RegistryValidationError(
            "no .safetensors weight file listed; zoo loads weights from safetensors only.",
            source=source, entry=entry, key="files",
        )
    return tuple(specs)


def _numbers(raw: Mapping[str, Any], key: str, *, source: str, entry: str) -> tuple[float, ...]:
    values = raw[key]
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                             for v in values):
        raise RegistryValidationError(f"expected an array of finite numbers, got {values!r}.",
                                      source=source, entry=entry, key=f"input.{key}")
    return tuple(float(v) for v in values)


def _input(raw: Mapping[str, Any], *, source: str, entry: str) -> InputSpec:
    _check_keys(raw, _INPUT_KEYS, source=source, entry=entry, prefix="input.")
    for k, v in raw.items():
        _check_type(v, _INPUT_KEYS[k], source=source, entry=entry, key=f"input.{k}")
    if "max_seq_length" in raw and raw["max_seq_length"] < 2:
        raise RegistryValidationError(f"must be at least 2 tokens, got {raw['max_seq_length']}.",
                                      source=source, entry=entry, key="input.max_seq_length")
    size = raw.get("image_size")
    if size is not None and not (len(size) in (2, 3) and all(type(v) is int and v > 0 for v in size)):
        raise RegistryValidationError(
            f"expected [height, width] (or [channels, height, width]) as positive integers, got {size!r}.",
            source=source, entry=entry, key="input.image_size")
    if raw.get("channels", 3) not in (1, 3):
        raise RegistryValidationError(f"must be 3 (RGB) or 1 (grayscale), got {raw['channels']!r}.",
                                      source=source, entry=entry, key="input.channels")
    channels = raw.get("channels") or (size[0] if size is not None and len(size) == 3 else 3)
    stats = {k: _numbers(raw, k, source=source, entry=entry) for k in ("mean", "std") if k in raw}
    for k, values in stats.items():
        if len(values) != channels:
            raise RegistryValidationError(f"expected one value per channel ({channels}), got {len(values)}: "
                                          f"{raw[k]!r}.", source=source, entry=entry, key=f"input.{k}")
    if any(v <= 0 for v in stats.get("std", ())):
        raise RegistryValidationError(f"every std must be positive, got {raw['std']!r}.",
                                      source=source, entry=entry, key="input.std")
    crop = raw.get("crop_pct")
    if crop is not None and not 0 < crop <= 1:
        raise RegistryValidationError(f"must be in (0, 1], got {crop}.", source=source, entry=entry, key="input.crop_pct")
    return InputSpec(
        max_seq_length=raw.get("max_seq_length"), text_prefix=raw.get("text_prefix", ""),
        image_size=tuple(size) if size is not None else None,
        interpolation=raw.get("interpolation"), crop_pct=None if crop is None else float(crop),
        channels=raw.get("channels"), **stats
    )


def _references(raw: list, *, source: str, entry: str) -> tuple[Reference, ...]:
    refs = []
    for i, r in enumerate(raw):
        key = f"references[{i}]"
        _check_type(r, dict, source=source, entry=entry, key=key)
        _check_keys(r, _REFERENCE_KEYS, source=source, entry=entry, prefix=key + ".")
        for k, (t, required) in _REFERENCE_KEYS.items():
            if k in r:
                _check_type(r[k], t, source=source, entry=entry, key=f"{key}.{k}")
            elif required:
                raise RegistryValidationError("required key missing.", source=source, entry=entry, key=f"{key}.{k}")
        refs.append(Reference(task=r["task"], metric=r["metric"], value=float(r["value"]), source=r["source"],
                              protocol=r.get("protocol", "")))
    return tuple(refs)


def _lineage(raw: Mapping[str, Any], *, source: str, entry: str) -> Lineage:
    _check_keys(raw, _LINEAGE_KEYS, source=source, entry=entry, prefix="lineage.")
    if not raw:
        raise RegistryValidationError("an empty lineage table; name at least the parent entry or the source file.",
                                      source=source, entry=entry, key="lineage")
    for key, value in raw.items():
        _check_type(value, str, source=source, entry=entry, key=f"lineage.{key}")
        pattern = _LINEAGE_KEYS[key]
        if value and pattern is not None and not pattern.match(value):
            what = {COMMIT_RE: "a full 40-hex commit id", SHA256_RE: "a sha256 (64 lowercase hex digits)",
                    NAME_RE: "a registry entry name"}[pattern]
            raise RegistryValidationError(f"{value!r} is not {what}.", source=source, entry=entry,
                                          key=f"lineage.{key}")
    return Lineage(**raw)


def parse_entry(name: str, raw: Mapping[str, Any], *, source: str) -> BackboneEntry:
    """Validate one raw entry table and return the frozen entry."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise RegistryValidationError(
            "entry names are lowercase letters, digits, '.', '_' and '-' (e.g. 'all-minilm-l6-v2').",
            source=source, entry=str(name),
        )
    if not isinstance(raw, Mapping):
        raise RegistryValidationError(f"expected a table, got {type(raw).__name__}.", source=source, entry=name)
    _check_keys(raw, _ENTRY_KEYS, source=source, entry=name)
    for key, (t, required) in _ENTRY_KEYS.items():
        if key in raw:
            _check_type(raw[key], t, source=source, entry=name, key=key)
        elif required:
            raise RegistryValidationError("required key missing.", source=source, entry=name, key=key)
    for key, choices in _CHOICES.items():
        if key in raw and raw[key] not in choices:
            raise RegistryValidationError(
                f"{raw[key]!r} is not one of {', '.join(choices)}.{did_you_mean(raw[key], choices)}",
                source=source, entry=name, key=key,
            )
    revision = raw["revision"]
    if not COMMIT_RE.match(revision):
        raise RegistryValidationError(
            f"{revision!r} is not a full 40-hex commit id. Branch and tag names move; pin the commit "
            f"(the Hub shows it on the repo's 'Files and versions' page, or `git ls-remote`).",
            source=source, entry=name, key="revision",
        )
    if not REPO_RE.match(raw["repo_id"]):
        raise RegistryValidationError(
            f"{raw['repo_id']!r} is not a Hub repo id of the form 'org/name'.", source=source, entry=name, key="repo_id"
        )
    for key in ("num_params", "embedding_dim"):
        if raw[key] <= 0:
            raise RegistryValidationError(f"must be positive, got {raw[key]}.", source=source, entry=name, key=key)
    tags = raw.get("tags", [])
    for i, t in enumerate(tags):
        _check_type(t, str, source=source, entry=name, key=f"tags[{i}]")
    integrity = raw.get("integrity", "verified")
    return BackboneEntry(
        name=name,
        architecture=raw["architecture"],
        repo_id=raw["repo_id"],
        revision=revision,
        files=_files(raw["files"], integrity, source=source, entry=name),
        modality=raw["modality"],
        license=raw["license"],
        num_params=raw["num_params"],
        embedding_dim=raw["embedding_dim"],
        input=_input(raw.get("input", {}), source=source, entry=name),
        pooling=raw.get("pooling", "mean"),
        normalize=raw.get("normalize", False),
        integrity=integrity,
        description=raw.get("description", ""),
        tags=tuple(tags),
        references=_references(raw.get("references", []), source=source, entry=name),
        paper=raw.get("paper", ""),
        lineage=_lineage(raw["lineage"], source=source, entry=name) if "lineage" in raw else None,
        source=source,
    )


def parse_registry(data: Mapping[str, Any], *, source: str) -> list[tuple[BackboneEntry, bool]]:
    """Validate a whole registry document; returns ``(entry, override)`` pairs in file order."""
    allowed = {"schema": int, "backbone": dict}
    _check_keys(data, allowed, source=source, entry="")
    schema = data.get("schema", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        raise RegistryValidationError(
            f"schema {schema!r} is not supported by this zoo (it reads schema {SCHEMA_VERSION}); upgrade transferzoo.",
            source=source, key="schema",
        )
    tables = data.get("backbone", {})
    _check_type(tables, dict, source=source, entry="", key="backbone")
    return [(parse_entry(name, raw, source=source), bool(raw.get("override", False))) for name, raw in tables.items()]
