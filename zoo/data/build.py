"""Assemble loaded parts into a :class:`DatasetBundle`: carve missing splits, compute fingerprints.

Every loader ends here, so the rules live in one place: splits given as files are used as
given; a missing validation/test split is carved, stratified, from the train part when its
fraction is above zero; asking for both a file and a fraction for the same split is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from ..errors import DatasetError
from .dataset import DatasetBundle, Inputs, Modality, Provenance, SourceFile, Split, take_inputs
from .hashing import canonical_json, fingerprint
from .options import SplitOptions
from .splits import carve_splits

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Part", "assemble"]


@dataclass(frozen=True, eq=False)
class Part:
    """The inputs and integer labels of one split as read from its files."""

    inputs: Inputs
    labels: np.ndarray
    sources: tuple[SourceFile, ...]

    def take(self, indices: np.ndarray) -> Part:
        return Part(take_inputs(self.inputs, indices), self.labels[indices], self.sources)


def _fractions_to_carve(options: SplitOptions, parts: Mapping[str, Part], loader: str) -> dict[str, float]:
    fractions = {"validation": options.validation_fraction, "test": options.test_fraction}
    for name, fraction in fractions.items():
        if name in parts and fraction > 0:
            raise DatasetError(
                f"dataset loader {loader!r}: the {name} split is given as a file and {name}_fraction={fraction} "
                f"asks to carve it from train as well. Remove one of the two."
            )
    return {name: f for name, f in fractions.items() if name not in parts}


def _path_fields(options: SplitOptions) -> tuple[str, ...]:
    """The options that name files (``metadata["path"]``): their files are hashed, so their spelling is not identity."""
    import dataclasses

    return tuple(f.name for f in dataclasses.fields(options) if f.metadata.get("path"))


def assemble(
    *,
    loader: str,
    options: SplitOptions,
    parts: Mapping[str, Part],
    label_names: tuple[str, ...],
    modality: Modality,
    seed: int,
    files: tuple[SourceFile, ...],
    extra: tuple[tuple[str, str], ...] = (),
) -> DatasetBundle:
    """Build the bundle from ``parts`` (``train`` and optionally ``validation``/``test``).

    ``files`` lists every file read (in a stable order) for the provenance; ``extra`` adds
    non-file facts to the fingerprint.

    Raises:
        DatasetError: if a split is both given and asked to be carved, or cannot be carved.
    """
    carve = _fractions_to_carve(options, parts, loader)
    parts = dict(parts)
    carved = any(f > 0 for f in carve.values())
    if carved:
        train = parts["train"]
        indices = carve_splits(
            train.labels,
            validation_fraction=carve.get("validation", 0.0),
            test_fraction=carve.get("test", 0.0),
            seed=seed,
        )
        parts.update({name: train.take(idx) for name, idx in indices.items()})
    provenance = Provenance(
        loader=loader, options=canonical_json(options), files=files, extra=extra, seed=seed if carved else None,
        path_options=_path_fields(options),
    )
    splits = {
        name: Split(
            name=name,
            inputs=part.inputs,
            labels=part.labels,
            label_names=label_names,
            modality=modality,
            sources=part.sources,
            fingerprint=fingerprint({"dataset": provenance.fingerprint, "split": name}),
        )
        for name, part in parts.items()
    }
    return DatasetBundle(
        train=splits["train"],
        validation=splits.get("validation"),
        test=splits.get("test"),
        provenance=provenance,
        seed=seed,
    )
