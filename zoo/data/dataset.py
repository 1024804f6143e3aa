"""The loaded-dataset types: :class:`Split`, :class:`DatasetBundle` and their provenance.

A :class:`Split` holds inputs (``list[str]`` for text, a numpy array for images and tables) and
int64 labels. A :class:`DatasetBundle` holds the train split and the optional validation and test
splits of one loaded dataset, with the :class:`Provenance` (loader, options, files and their
sha256) whose :attr:`~Provenance.fingerprint` names the dataset in run records and cache keys.

numpy is imported lazily, so importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, Sequence, Union, get_args

from .hashing import fingerprint

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Modality",
    "MODALITIES",
    "Inputs",
    "SourceFile",
    "Provenance",
    "Split",
    "DatasetBundle",
    "DatasetLoader",
    "take_inputs",
]

Modality = Literal["text", "image", "vector"]
MODALITIES: tuple[str, ...] = get_args(Modality)  # the same as zoo.contracts.MODALITIES
Inputs = Union[list[str], "np.ndarray"]


@dataclass(frozen=True)
class SourceFile:
    """One file a dataset was read from: the option that named it, its path, sha256 and size."""

    role: str
    path: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class Provenance:
    """Everything that determines a loaded dataset.

    ``options`` is the canonical JSON of the loader's options. ``extra`` holds facts that are
    not files (e.g. the scikit-learn version and the hash of the bundled data). ``seed`` is set
    only when splits were carved from the seed, because only then does it change the data.
    """

    loader: str
    options: str
    files: tuple[SourceFile, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()
    seed: int | None = None
    path_options: tuple[str, ...] = ()

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over the file hashes (by role), the loader name, the options and the extra facts.

        Options in ``path_options`` (those naming files) are left out: the files they name are in
        ``files`` by content, so how a path is written (relative, absolute, through a symlink)
        never changes the fingerprint, the feature-cache key or leaderboard grouping.
        """
        import json

        options = json.loads(self.options)
        if isinstance(options, dict):
            options = {k: v for k, v in options.items() if k not in self.path_options}
        return fingerprint(
            {
                "loader": self.loader,
                "options": options,
                "files": [[f.role, f.sha256] for f in self.files],
                "extra": [list(kv) for kv in self.extra],
                "seed": self.seed,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record for run records."""
        import json

        return {
            "loader": self.loader,
            "options": json.loads(self.options),
            "files": [f.to_dict() for f in self.files],
            "extra": dict(self.extra),
            "seed": self.seed,
            "fingerprint": self.fingerprint,
        }


def take_inputs(inputs: Inputs, indices: np.ndarray) -> Inputs:
    """Select ``inputs[indices]`` from a list of texts or an array."""
    import numpy as np

    return inputs[indices] if isinstance(inputs, np.ndarray) else [inputs[i] for i in indices]


def _freeze(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a dataset: inputs, int64 labels (or None: an unlabeled split, as domain
    adaptation and self-training use), label names, modality and provenance.

    ``sources`` are the files this split was read from; ``fingerprint`` identifies its content
    (it changes whenever the files, the loader options or the carving seed change).
    """

    name: str
    inputs: Inputs
    labels: np.ndarray | None
    label_names: tuple[str, ...]
    modality: Modality
    sources: tuple[SourceFile, ...]
    fingerprint: str

    def __post_init__(self) -> None:
        import numpy as np

        if self.modality not in MODALITIES:
            raise ValueError(f"split {self.name!r}: modality {self.modality!r} is not one of {MODALITIES}")
        if self.labels is None:  # unlabeled
            if isinstance(self.inputs, np.ndarray):
                _freeze(self.inputs)
            return
        labels = np.asarray(self.labels)
        if labels.dtype != np.int64 or labels.ndim != 1:
            raise ValueError(f"split {self.name!r}: labels must be 1-d int64, got {labels.dtype} {labels.shape}")
        if len(self.inputs) != len(labels):
            raise ValueError(f"split {self.name!r}: {len(self.inputs)} inputs but {len(labels)} labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.label_names)):
            raise ValueError(f"split {self.name!r}: labels fall outside 0..{len(self.label_names) - 1}")
        object.__setattr__(self, "labels", _freeze(labels))
        if isinstance(self.inputs, np.ndarray):
            _freeze(self.inputs)

    def __len__(self) -> int:
        return len(self.inputs) if self.labels is None else len(self.labels)

    @property
    def labeled(self) -> bool:
        return self.labels is not None

    def __repr__(self) -> str:
        return (
            f"Split(name={self.name!r}, n={len(self)}, classes={len(self.label_names)}, "
            f"modality={self.modality!r}, fingerprint={self.fingerprint[:12]!r})"
        )

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def class_counts(self) -> np.ndarray:
        """Examples per class, indexed by label (length ``num_classes``)."""
        import numpy as np

        return np.bincount(self.labels, minlength=len(self.label_names))

    def subset(self, indices: Sequence[int] | np.ndarray, *, name: str | None = None) -> Split:
        """Return the split restricted to ``indices`` (in that order), with a derived fingerprint."""
        import hashlib

        import numpy as np

        idx = np.asarray(indices, dtype=np.int64)
        sub_name = name or f"{self.name}[subset]"
        return Split(
            name=sub_name,
            inputs=take_inputs(self.inputs, idx),
            labels=None if self.labels is None else self.labels[idx],
            label_names=self.label_names,
            modality=self.modality,
            sources=self.sources,
            fingerprint=fingerprint(
                {"parent": self.fingerprint, "name": sub_name, "indices": hashlib.sha256(idx.tobytes()).hexdigest()}
            ),
        )

    def folds(self, n_splits: int = 10, *, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Stratified K-fold ``(train_idx, test_idx)`` pairs over this split (see :func:`kfold`)."""
        from .splits import kfold

        return kfold(self.labels, n_splits=n_splits, seed=seed)


@dataclass(frozen=True, eq=False)
class DatasetBundle:
    """A loaded dataset: ``train`` plus optional ``validation`` and ``test`` splits.

    All splits share ``label_names`` and ``modality``. ``fingerprint`` is the dataset hash for run
    records and feature-cache keys; ``seed`` is the seed the bundle was loaded with (the default
    for :meth:`folds`).
    """

    train: Split
    validation: Split | None
    test: Split | None
    provenance: Provenance
    seed: int

    @property
    def fingerprint(self) -> str:
        return self.provenance.fingerprint

    @property
    def label_names(self) -> tuple[str, ...]:
        return self.train.label_names

    @property
    def num_classes(self) -> int:
        return len(self.train.label_names)

    @property
    def modality(self) -> Modality:
        return self.train.modality

    @property
    def sources(self) -> tuple[SourceFile, ...]:
        return self.provenance.files

    @property
    def splits(self) -> dict[str, Split]:
        """The splits that exist, by name, in the order train, validation, test."""
        found = {"train": self.train, "validation": self.validation, "test": self.test}
        return {k: v for k, v in found.items() if v is not None}

    def folds(self, n_splits: int = 10, *, seed: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Stratified K-fold index pairs over the train split (SentEval protocol).

        ``seed`` defaults to the seed the bundle was loaded with.
        """
        return self.train.folds(n_splits, seed=self.seed if seed is None else seed)

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready summary for run records: provenance, split sizes and fingerprints."""
        record = self.provenance.to_dict()
        record["label_names"] = list(self.label_names)
        record["modality"] = self.modality
        record["splits"] = {k: {"n": len(v), "fingerprint": v.fingerprint} for k, v in self.splits.items()}
        return record

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.splits.items())
        return (
            f"DatasetBundle(loader={self.provenance.loader!r}, {sizes}, classes={self.num_classes}, "
            f"modality={self.modality!r}, fingerprint={self.fingerprint[:12]!r})"
        )


class DatasetLoader(Protocol):
    """What a registered dataset loader is: ``loader(options, *, base_dir, seed) -> DatasetBundle``.

    ``options`` is the loader's options dataclass; relative paths in it are resolved against
    ``base_dir`` (the recipe's directory); ``seed`` drives any carved split.
    """

    def __call__(self, options: Any, *, base_dir: Path, seed: int) -> DatasetBundle: ...
