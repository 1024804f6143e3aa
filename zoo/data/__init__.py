"""The dataset layer: loaders that read real files into :class:`DatasetBundle` objects.

Every loader has the signature ``loader(options, *, base_dir, seed) -> DatasetBundle`` and a
frozen options dataclass; :mod:`zoo.default_plugins.datasets` registers them as plugin
components. Importing this package does not import numpy or scikit-learn.

>>> from zoo.data import load_csv, CsvOptions
>>> bundle = load_csv(CsvOptions(train="train.csv", test="test.csv", label_column="category"),
...                   base_dir=data_dir / "banking77", seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from .bundled import load_sklearn
from .dataset import MODALITIES, DatasetBundle, DatasetLoader, Modality, Provenance, SourceFile, Split
from .hashing import canonical_json, fingerprint, sha256_file
from .idx import load_idx, read_idx
from .options import (
    SKLEARN_DATASETS,
    CsvOptions,
    IdxOptions,
    JsonlOptions,
    LinesPerLabelOptions,
    SklearnOptions,
    SplitOptions,
    TableOptions,
    TextFilesOptions,
    TextLabelTsvOptions,
    TsvOptions,
)
from .splits import carve_splits, kfold, stratified_split
from .text import load_csv, load_jsonl, load_lines_per_label, load_text_label_tsv, load_tsv

__all__ = [
    # types
    "Split",
    "DatasetBundle",
    "DatasetLoader",
    "Provenance",
    "SourceFile",
    "Modality",
    "MODALITIES",
    # loaders
    "load_csv",
    "load_tsv",
    "load_jsonl",
    "load_text_label_tsv",
    "load_lines_per_label",
    "load_sklearn",
    "load_idx",
    "read_idx",
    # options
    "SplitOptions",
    "TextFilesOptions",
    "TableOptions",
    "CsvOptions",
    "TsvOptions",
    "JsonlOptions",
    "TextLabelTsvOptions",
    "LinesPerLabelOptions",
    "SklearnOptions",
    "IdxOptions",
    "SKLEARN_DATASETS",
    # splits and hashing
    "stratified_split",
    "carve_splits",
    "kfold",
    "sha256_file",
    "canonical_json",
    "fingerprint",
]
