"""Built-in plugin: the dataset loaders of :mod:`zoo.data`.

Each loader is called as ``loader(options, *, base_dir, seed) -> zoo.data.DatasetBundle``.
Importing this module imports neither numpy nor scikit-learn; the loaders import them when run.
"""

from __future__ import annotations

from zoo.data.bundled import load_sklearn
from zoo.data.idx import load_idx
from zoo.data.images import CifarOptions, ImageFolderOptions, NpzOptions, load_cifar, load_image_folder, load_npz
from zoo.data.options import (
    CsvOptions,
    IdxOptions,
    JsonlOptions,
    LinesPerLabelOptions,
    SklearnOptions,
    TextLabelTsvOptions,
    TsvOptions,
)
from zoo.data.text import load_csv, load_jsonl, load_lines_per_label, load_text_label_tsv, load_tsv
from zoo.hookspecs import hookimpl

__all__ = ["register_datasets"]


@hookimpl
def register_datasets(register) -> None:
    register("csv", load_csv, options=CsvOptions,
             summary="Text classification from CSV files with a header row (quoted fields allowed), e.g. Banking77.")
    register("tsv", load_tsv, options=TsvOptions,
             summary="Text classification from tab-separated files with a header row.")
    register("jsonl", load_jsonl, options=JsonlOptions,
             summary="Text classification from JSON-lines files (one object per line).")
    register("text-label-tsv", load_text_label_tsv, options=TextLabelTsvOptions,
             summary="Headerless text<TAB>label files with train/dev/test, e.g. SentEval SST2.")
    register("lines-per-label", load_lines_per_label, options=LinesPerLabelOptions,
             summary="One sentence per line, one file per label (SentEval MR, CR, SUBJ, MPQA); use 10-fold CV.")
    register("sklearn", load_sklearn, options=SklearnOptions,
             summary="A dataset bundled with scikit-learn: digits, iris, wine or breast_cancer.")
    register("idx", load_idx, options=IdxOptions,
             summary="IDX image and label files, gzipped or raw, e.g. MNIST.")
    register("image-folder", load_image_folder, options=ImageFolderOptions,
             summary="Image files in one folder per class (root/<class>/*.png|jpg), decoded lazily with Pillow.")
    register("cifar", load_cifar, options=CifarOptions,
             summary="CIFAR-10/100 python batches, read with a restricted unpickler (data only).")
    register("npz", load_npz, options=NpzOptions,
             summary="NumPy .npz image and label arrays (no pickles), e.g. digits saved with np.savez.")
