"""The ``sklearn`` loader: small datasets shipped inside scikit-learn (digits, iris, wine, breast_cancer).

There are no files to hash, so the fingerprint covers the scikit-learn version and the sha256
of the data bytes instead. ``digits`` comes as (N, 8, 8) float32 images scaled from 0..16 to [0, 1]
(modality "image"); the others as (N, features) float64 tables (modality "vector").
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from .build import Part, assemble
from .dataset import DatasetBundle
from .options import SklearnOptions, ensure_options

if TYPE_CHECKING:
    import numpy as np

__all__ = ["load_sklearn", "data_sha256"]


def data_sha256(*arrays: np.ndarray) -> str:
    """sha256 over each array's dtype, shape and C-ordered bytes."""
    import numpy as np

    h = hashlib.sha256()
    for array in arrays:
        h.update(f"{array.dtype.str}{array.shape}".encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def load_sklearn(options: SklearnOptions | None, *, base_dir: Path, seed: int) -> DatasetBundle:
    """Load a scikit-learn bundled dataset by name. ``base_dir`` is unused (nothing is read from it)."""
    import numpy as np
    import sklearn
    from sklearn import datasets

    opts = ensure_options(SklearnOptions, options)
    raw = getattr(datasets, f"load_{opts.name}")()
    image = opts.modality == "image"
    # digit images are 0..16: as images they are scaled to [0, 1] (what image backbones take)
    inputs = (np.asarray(raw.images, dtype=np.float32) / 16.0) if image else np.asarray(raw.data)
    if opts.shift is not None:
        from .shifts import apply_shift

        if image:
            inputs = apply_shift(inputs, opts.shift, maxval=1.0)
        else:
            inputs = apply_shift(raw.images, opts.shift, maxval=16.0).reshape(len(raw.images), -1)
    labels = np.asarray(raw.target, dtype=np.int64)
    names = tuple(str(n) for n in raw.target_names)
    extra = (("sklearn", sklearn.__version__), ("data_sha256", data_sha256(inputs, labels)))
    return assemble(
        loader="sklearn",
        options=opts,
        parts={"train": Part(inputs, labels, ())},
        label_names=names,
        modality=opts.modality,
        seed=seed,
        files=(),
        extra=extra,
    )
