"""The metadata of one pretrained backbone: one frozen dataclass, as timm's ``PretrainedCfg``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from functools import lru_cache
from typing import Any, Literal

__all__ = ["FileSpec", "InputSpec", "Reference", "Lineage", "BackboneEntry", "Integrity", "Modality"]

Integrity = Literal["verified", "tofu"]
Modality = Literal["text", "image", "vector"]


@lru_cache(maxsize=None)
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def to_plain(value: Any) -> Any:
    """``dataclasses.asdict`` for these frozen entries, without its deep copies.

    Every field holds an immutable value (str, number, tuple, nested frozen dataclass), so nothing
    needs copying; on a registry of 50,000 entries this is several times faster than ``asdict``.
    """
    if is_dataclass(value) and not isinstance(value, type):
        return {name: to_plain(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, (tuple, list)):
        return type(value)(to_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class FileSpec:
    """One file of a Hub repo that an entry needs; ``sha256`` is None for trust-on-first-use."""

    filename: str
    sha256: str | None

    @property
    def is_weights(self) -> bool:
        return self.filename.endswith(".safetensors")


@dataclass(frozen=True)
class InputSpec:
    """What the backbone expects as input."""

    max_seq_length: int | None = None
    text_prefix: str = ""
    image_size: tuple[int, ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    interpolation: str | None = None
    crop_pct: float | None = None
    channels: int | None = None

    def image_dict(self) -> dict[str, Any]:
        """The image fields that are set, as :class:`zoo.models.image.ImageInput` keys."""
        raw = {"size": self.image_size, "mean": self.mean, "std": self.std, "interpolation": self.interpolation,
               "crop_pct": self.crop_pct, "channels": self.channels}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in raw.items() if v is not None}


@dataclass(frozen=True)
class Reference:
    """A published result for this backbone, with where it was published."""

    task: str
    metric: str
    value: float
    source: str
    protocol: str = ""


@dataclass(frozen=True)
class Lineage:
    """Where an entry's weights came from, when they were made from other weights.

    A model trained by a zoo run names its ``parent`` entry, the parent's pinned ``commit``, the
    ``run_id`` and the sha256 of the run's resolved recipe (``recipe_digest``). Weights converted
    from another format name the ``source`` file (path or URL) and its ``source_sha256``. Fields
    that do not apply are empty strings.
    """

    parent: str = ""
    commit: str = ""
    run_id: str = ""
    recipe_digest: str = ""
    source: str = ""
    source_sha256: str = ""

    def to_dict(self) -> dict[str, str]:
        """The fields that are set (the form of a registry file's ``lineage`` table)."""
        return {k: v for k, v in to_plain(self).items() if v}


@dataclass(frozen=True)
class BackboneEntry:
    """Everything the zoo knows about one pretrained backbone.

    ``revision`` is always a full 40-hex commit; ``files`` lists every file the
    backbone needs with its sha256. ``integrity`` says whether those hashes were
    verified by the registry's authors (``verified``) or are recorded in the lock
    file on first download (``tofu``). ``lineage`` says which weights these were made
    from (a zoo run, a conversion), None for weights published as they are. ``source``
    names the registry layer (a file path, or ``plugin:NAME``) the entry came from.
    """

    name: str
    architecture: str
    repo_id: str
    revision: str
    files: tuple[FileSpec, ...]
    modality: Modality
    license: str
    num_params: int
    embedding_dim: int
    input: InputSpec = field(default_factory=InputSpec)
    pooling: str = "mean"
    normalize: bool = False
    integrity: Integrity = "verified"
    description: str = ""
    tags: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    paper: str = ""
    lineage: Lineage | None = None
    source: str = "<builtin>"

    @property
    def weights_files(self) -> tuple[FileSpec, ...]:
        return tuple(f for f in self.files if f.is_weights)

    @property
    def hub_url(self) -> str:
        return f"https://huggingface.co/{self.repo_id}/tree/{self.revision}"

    def file(self, filename: str) -> FileSpec:
        for f in self.files:
            if f.filename == filename:
                return f
        raise KeyError(filename)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (files as ``{filename: sha256}``)."""
        d = to_plain(self)
        d["files"] = {f.filename: f.sha256 for f in self.files}
        d["tags"] = list(self.tags)
        d["input"] = {k: v for k, v in d["input"].items() if v not in (None, "")}
        d["lineage"] = self.lineage.to_dict() if self.lineage is not None else None
        return d
