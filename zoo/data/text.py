"""Text dataset loaders: ``csv``, ``tsv``, ``jsonl``, ``text-label-tsv`` and ``lines-per-label``.

Each loader has the signature ``loader(options, *, base_dir, seed) -> DatasetBundle``; ``options``
is its options dataclass (``None`` for the defaults). Paths are resolved against ``base_dir``.
"""

from __future__ import annotations

import csv
from functools import partial
from pathlib import Path
from typing import Any, Callable

from ..errors import DatasetError, OptionsError
from .build import Part, assemble
from .dataset import DatasetBundle, SourceFile
from .labels import encode_labels, label_order, read_label_names
from .options import (
    CsvOptions,
    JsonlOptions,
    LinesPerLabelOptions,
    TableOptions,
    TextFilesOptions,
    TextLabelTsvOptions,
    TsvOptions,
    ensure_options,
)
from .paths import resolve_file, source_file
from .readers import TextRows, read_jsonl, read_lines, read_table, read_text_label_lines

__all__ = ["load_csv", "load_tsv", "load_jsonl", "load_text_label_tsv", "load_lines_per_label"]

SPLITS = ("train", "validation", "test")
Reader = Callable[[Path], TextRows]


def _load_labelled_files(
    loader: str, opts: TextFilesOptions, read: Reader, *, base_dir: Path, seed: int
) -> DatasetBundle:
    """Shared path of the loaders that read a train file and optional validation/test files."""
    base_dir = Path(base_dir)
    paths = {
        split: resolve_file(getattr(opts, split), key=split, base_dir=base_dir, loader=loader)
        for split in SPLITS
        if getattr(opts, split)
    }
    names_path = None
    if opts.label_names:
        names_path = resolve_file(opts.label_names, key="label_names", base_dir=base_dir, loader=loader)
    sources = {split: source_file(path, role=split) for split, path in paths.items()}
    rows = {split: read(path) for split, path in paths.items()}
    for split, r in rows.items():  # every split, before any model is loaded or any text encoded
        if not r.texts:
            raise DatasetError(f"dataset loader {loader!r}, option {split!r}: {paths[split]} holds no examples. "
                               "Check the file and the loader options.")
    if names_path:
        names, names_from = read_label_names(names_path), str(names_path)
    else:
        names, names_from = label_order(rows["train"].labels), f"the train file {paths['train']}"
    parts = {
        split: Part(r.texts, encode_labels(r, names, names_from=names_from), (sources[split],))
        for split, r in rows.items()
    }
    files = tuple(sources.values()) + ((source_file(names_path, role="label_names"),) if names_path else ())
    return assemble(
        loader=loader, options=opts, parts=parts, label_names=names, modality="text", seed=seed, files=files
    )


def _table_reader(opts: TableOptions, **dialect: Any) -> Reader:
    columns = {"text_column": opts.text_column, "label_column": opts.label_column}
    return partial(read_table, encoding=opts.encoding, **columns, **dialect)


def load_csv(options: CsvOptions | None, *, base_dir: Path, seed: int) -> DatasetBundle:
    """Load comma-separated files with a header row; quoted fields may contain commas (Banking77)."""
    opts = ensure_options(CsvOptions, options)
    read = _table_reader(opts, delimiter=",", quoting=csv.QUOTE_MINIMAL)
    return _load_labelled_files("csv", opts, read, base_dir=base_dir, seed=seed)


def load_tsv(options: TsvOptions | None, *, base_dir: Path, seed: int) -> DatasetBundle:
    """Load tab-separated files with a header row; quotes are ordinary characters."""
    opts = ensure_options(TsvOptions, options)
    read = _table_reader(opts, delimiter="\t", quoting=csv.QUOTE_NONE)
    return _load_labelled_files("tsv", opts, read, base_dir=base_dir, seed=seed)


def load_jsonl(options: JsonlOptions | None, *, base_dir: Path, seed: int) -> DatasetBundle:
    """Load JSON-lines files, one object per line with a text key and a label key."""
    opts = ensure_options(JsonlOptions, options)
    read = partial(read_jsonl, encoding=opts.encoding, text_column=opts.text_column, label_column=opts.label_column)
    return _load_labelled_files("jsonl", opts, read, base_dir=base_dir, seed=seed)


def load_text_label_tsv(options: TextLabelTsvOptions | None, *, base_dir: Path, seed: int) -> DatasetBundle:
    """Load headerless ``text<TAB>label`` files (SST2's sentiment-train/dev/test)."""
    opts = ensure_options(TextLabelTsvOptions, options)
    read = partial(read_text_label_lines, encoding=opts.encoding)
    return _load_labelled_files("text-label-tsv", opts, read, base_dir=base_dir, seed=seed)


def _label_files(opts: LinesPerLabelOptions, base_dir: Path) -> dict[str, Path]:
    """label -> file, from ``files`` (in the given order) or ``directory`` + ``glob`` (sorted by label)."""
    loader = "lines-per-label"
    if opts.files:
        found = {
            label: resolve_file(path, key=f"files[{label}]", base_dir=base_dir, loader=loader)
            for label, path in opts.label_files()
        }
    elif opts.directory:
        found = _glob_label_files(base_dir / Path(opts.directory).expanduser(), opts.glob, loader=loader)
    else:
        raise OptionsError(
            f"dataset loader {loader!r} needs `files` (one file per label, e.g. files = [\"pos=MR/rt-polarity.pos\", "
            "\"neg=MR/rt-polarity.neg\"]) or `directory` with `glob` (e.g. directory = \"CR\", glob = \"custrev.*\")."
        )
    if len(found) < 2:
        raise DatasetError(
            f"dataset loader {loader!r}: found {len(found)} label file(s) ({', '.join(map(str, found.values()))}); "
            "a classification task needs at least two labels. Fix `files`, or `directory` and `glob`."
        )
    return found


def _glob_label_files(directory: Path, pattern: str, *, loader: str) -> dict[str, Path]:
    """The files in ``directory`` matching ``pattern``, keyed (and sorted) by the part ``*`` matched."""
    if not directory.is_dir():
        raise DatasetError(
            f"dataset loader {loader!r}, option 'directory': {directory} is not a directory. Fix the path."
        )
    prefix, suffix = pattern.split("*")
    found = {p.name[len(prefix) : len(p.name) - len(suffix)]: p for p in directory.glob(pattern) if p.is_file()}
    return dict(sorted((label, path) for label, path in found.items() if label))


def load_lines_per_label(options: LinesPerLabelOptions | None, *, base_dir: Path, seed: int) -> DatasetBundle:
    """Load one-sentence-per-line files, one file per label (SentEval MR, CR, SUBJ, MPQA).

    There is no official split: the result has only ``train`` unless fractions are set; use
    :meth:`DatasetBundle.folds` for SentEval's 10-fold cross-validation.
    """
    import numpy as np

    opts = ensure_options(LinesPerLabelOptions, options)
    files = _label_files(opts, Path(base_dir))
    sources: list[SourceFile] = []
    texts: list[str] = []
    labels: list[np.ndarray] = []
    for i, (label, path) in enumerate(files.items()):
        sources.append(source_file(path, role=f"files[{label}]"))
        lines = read_lines(path, encoding=opts.encoding, skip_blank=opts.skip_blank)
        texts.extend(lines)
        labels.append(np.full(len(lines), i, dtype=np.int64))
    part = Part(texts, np.concatenate(labels), tuple(sources))
    return assemble(
        loader="lines-per-label",
        options=opts,
        parts={"train": part},
        label_names=tuple(files),
        modality="text",
        seed=seed,
        files=tuple(sources),
    )
