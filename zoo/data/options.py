"""The options of each dataset loader, as frozen dataclasses.

Every field has a default and ``metadata={"help": ...}``, so the plugin layer can show and
validate them. File paths are strings, resolved against the recipe's directory at load time.
This module imports only the standard library. Build options with the dataclass itself, or from a
recipe mapping with :func:`zoo.plugins` option validation (which checks names and types).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal, TypeVar, get_args

from ..errors import OptionsError, did_you_mean

__all__ = [
    "SplitOptions",
    "TextFilesOptions",
    "TableOptions",
    "CsvOptions",
    "TsvOptions",
    "JsonlOptions",
    "LinesPerLabelOptions",
    "TextLabelTsvOptions",
    "SklearnOptions",
    "IdxOptions",
    "SKLEARN_DATASETS",
    "ensure_options",
    "path_options",
]

O = TypeVar("O")

SklearnName = Literal["digits", "iris", "wine", "breast_cancer"]
SKLEARN_DATASETS: tuple[str, ...] = get_args(SklearnName)


def _opt(default: Any, help: str, *, path: str | None = None) -> Any:
    """A dataclass field with a default and a help text; ``path``: ``"file"``, ``"dir"`` or
    ``"label-files"`` when the value names files (resolved against the recipe's directory and
    checked before a run starts; see :func:`path_options`)."""
    return field(default=default, metadata={"help": help, **({"path": path} if path else {})})


def path_options(options: Any) -> list[tuple[str, str, str]]:
    """``(option, path, kind)`` for every path-valued option, read from the fields' ``path`` metadata.

    ``kind`` is ``"file"`` or ``"dir"``; a ``"label-files"`` option contributes each of its files.
    """
    import dataclasses

    out: list[tuple[str, str, str]] = []
    if options is None or not dataclasses.is_dataclass(options):
        return out
    for f in dataclasses.fields(options):
        kind, value = f.metadata.get("path"), getattr(options, f.name)
        if not kind or not value:
            continue
        if kind == "label-files":
            out.extend((f.name, path, "file") for _, path in options.label_files())
        else:
            out.append((f.name, str(value), kind))
    return out


def _check_encoding(name: str) -> None:
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise OptionsError(
            f"option 'encoding': unknown text encoding {name!r}; use e.g. 'utf-8' or 'latin-1'."
        ) from None
    if not getattr(info, "_is_text_encoding", True):  # rot13, base64, zlib: codecs, not text encodings
        raise OptionsError(
            f"option 'encoding': {name!r} is a codec that does not decode bytes to text; use a text encoding "
            "such as 'utf-8' or 'latin-1'."
        )


_LABEL_NAMES_HELP = (
    "JSON file with the list of label names; fixes the label order "
    "(default: the train file's labels, sorted, numerically if all are integers)"
)


@dataclass(frozen=True, kw_only=True)
class SplitOptions:
    """How to carve validation/test splits when no file gives them (stratified, from the seed)."""

    validation_fraction: float = _opt(
        0.0, "fraction of the data to hold out as validation when no validation file is given (stratified, seeded)"
    )
    test_fraction: float = _opt(
        0.0, "fraction of the data to hold out as test when no test file is given (stratified, seeded)"
    )

    def __post_init__(self) -> None:
        v, t = self.validation_fraction, self.test_fraction
        if not (0 <= v < 1 and 0 <= t < 1 and v + t < 1):
            raise OptionsError(
                f"validation_fraction={v} and test_fraction={t}: each must be in [0, 1) and their sum below 1."
            )


@dataclass(frozen=True, kw_only=True)
class TextFilesOptions(SplitOptions):
    """Options shared by the text loaders that read a train file and optional validation/test files."""

    train: str = _opt("train.tsv", "train file, relative to the recipe's directory", path="file")
    validation: str | None = _opt(None, "validation file (optional)", path="file")
    test: str | None = _opt(None, "test file (optional)", path="file")
    encoding: str = _opt("utf-8", "text encoding of the files")
    label_names: str | None = _opt(None, _LABEL_NAMES_HELP, path="file")

    modality = "text"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_encoding(self.encoding)


@dataclass(frozen=True, kw_only=True)
class TableOptions(TextFilesOptions):
    """Options shared by the ``csv``, ``tsv`` and ``jsonl`` loaders: files with named columns."""

    text_column: str = _opt("text", "column (or JSON key) that holds the text")
    label_column: str = _opt("label", "column (or JSON key) that holds the label")


@dataclass(frozen=True, kw_only=True)
class CsvOptions(TableOptions):
    """Options of the ``csv`` loader: comma-separated with a header row, quoted fields allowed."""

    train: str = _opt("train.csv", "train file, relative to the recipe's directory", path="file")


@dataclass(frozen=True, kw_only=True)
class TsvOptions(TableOptions):
    """Options of the ``tsv`` loader: tab-separated with a header row; quotes are plain text."""


@dataclass(frozen=True, kw_only=True)
class JsonlOptions(TableOptions):
    """Options of the ``jsonl`` loader: one JSON object per line."""

    train: str = _opt("train.jsonl", "train file, relative to the recipe's directory", path="file")


@dataclass(frozen=True, kw_only=True)
class TextLabelTsvOptions(TextFilesOptions):
    """Options of the ``text-label-tsv`` loader (SST2): ``text<TAB>label`` lines, no header."""


@dataclass(frozen=True, kw_only=True)
class LinesPerLabelOptions(SplitOptions):
    """Options of the ``lines-per-label`` loader (SentEval MR, CR, SUBJ, MPQA): one file per label."""

    files: tuple[str, ...] = _opt(
        (),
        "one file per label, one example per line, as 'label=path' or 'path' (the label is then the file's "
        "extension: 'MR/rt-polarity.pos' -> 'pos'); labels are numbered in this order",
        path="label-files",
    )
    directory: str | None = _opt(None, "instead of files: a directory whose files matching `glob` hold one label each",
                                 path="dir")
    glob: str = _opt(
        "*", "with directory: a pattern with one '*', which matches the label (e.g. 'rt-polarity.*'); labels are sorted"
    )
    encoding: str = _opt("latin-1", "text encoding of the files (SentEval's MR and SUBJ need latin-1)")
    skip_blank: bool = _opt(
        False, "skip lines that are blank (SentEval keeps them: CR has 3775 lines, 4 of them blank)"
    )

    modality = "text"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_encoding(self.encoding)
        if self.files and self.directory:
            raise OptionsError("lines-per-label: give either `files` or `directory` (with `glob`), not both.")
        labels = [label for label, _ in self.label_files()]
        if len(set(labels)) != len(labels):
            raise OptionsError(f"option 'files': the labels {labels} repeat; give each file its label as 'label=path'.")
        if self.directory and self.glob.count("*") != 1:
            raise OptionsError(f"option 'glob': {self.glob!r} needs exactly one '*' (the part naming the label).")

    def label_files(self) -> list[tuple[str, str]]:
        """``files`` as (label, path) pairs, in order."""
        return [_label_file(item) for item in self.files]


def _label_file(item: str) -> tuple[str, str]:
    label, sep, path = item.partition("=")
    if not sep:
        path, label = item, PurePath(item).suffix.lstrip(".")
    if not label.strip() or not path.strip():
        raise OptionsError(f"option 'files': cannot tell the label of {item!r}; write it as 'label=path'.")
    return label.strip(), path.strip()


@dataclass(frozen=True, kw_only=True)
class SklearnOptions(SplitOptions):
    """Options of the ``sklearn`` loader: a dataset bundled with scikit-learn, by name."""

    name: SklearnName = _opt("digits", "which bundled dataset")
    flatten: bool = _opt(False, "give digits as flat 64-value vectors (modality 'vector') instead of 8x8 images")

    @property
    def modality(self) -> str:
        """``digits`` are 8x8 images (unless flattened); the other bundled datasets are feature vectors."""
        return "image" if self.name == "digits" and not self.flatten else "vector"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.name not in SKLEARN_DATASETS:
            hint = did_you_mean(self.name, SKLEARN_DATASETS)
            raise OptionsError(
                f"option 'name': scikit-learn bundles no dataset {self.name!r}.{hint} "
                f"Choose one of: {', '.join(SKLEARN_DATASETS)}."
            )


@dataclass(frozen=True, kw_only=True)
class IdxOptions(SplitOptions):
    """Options of the ``idx`` loader: IDX image and label files (MNIST format), gzipped or raw."""

    train_images: str = _opt("train-images-idx3-ubyte.gz", "IDX file of the train images", path="file")
    train_labels: str = _opt("train-labels-idx1-ubyte.gz", "IDX file of the train labels", path="file")
    validation_images: str | None = _opt(None, "IDX file of the validation images (optional)", path="file")
    validation_labels: str | None = _opt(None, "IDX file of the validation labels (with validation_images)",
                                         path="file")
    test_images: str | None = _opt(None, "IDX file of the test images (optional)", path="file")
    test_labels: str | None = _opt(None, "IDX file of the test labels (with test_images)", path="file")
    label_names: str | None = _opt(
        None, "JSON file with the list of label names, indexed by label value (default: '0', '1', ...)", path="file"
    )

    modality = "image"

    def __post_init__(self) -> None:
        super().__post_init__()
        for split in ("validation", "test"):
            if (getattr(self, f"{split}_images") is None) != (getattr(self, f"{split}_labels") is None):
                raise OptionsError(f"idx: give both {split}_images and {split}_labels, or neither.")


def ensure_options(cls: type[O], options: O | None) -> O:
    """Return ``options``, or ``cls()`` (all defaults) for ``None``.

    Raises:
        TypeError: if ``options`` is not a ``cls`` (a recipe mapping must be validated first).
    """
    if options is None:
        return cls()
    if not isinstance(options, cls):
        raise TypeError(
            f"expected {cls.__name__} options, got {type(options).__name__}; build them with "
            f"{cls.__name__}(**values), which checks each value."
        )
    return options
