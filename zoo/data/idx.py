"""The ``idx`` loader: MNIST-style IDX image and label files, gzipped or raw.

IDX layout: two zero bytes, a dtype code, the number of dimensions, then one big-endian uint32
per dimension, then the data. The header is validated (magic, dtype, dimensions, data length)
and every problem raises :class:`~zoo.errors.DatasetError` naming the file.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from ..errors import DatasetError
from .build import Part, assemble
from .dataset import DatasetBundle, SourceFile
from .labels import read_label_names
from .options import IdxOptions, ensure_options
from .paths import resolve_file, source_file

if TYPE_CHECKING:
    import numpy as np

__all__ = ["IDX_DTYPES", "read_idx", "load_idx"]

IDX_DTYPES: dict[int, str] = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: corrupt gzip data ({exc}). Download the file again.") from exc


def read_idx(path: Path, *, ndim: int | None = None, min_ndim: int = 1) -> np.ndarray:
    """Read an IDX file (gzipped or raw) into an array in native byte order.

    ``ndim`` requires an exact number of dimensions; ``min_ndim`` a minimum.

    Raises:
        DatasetError: naming the file, on a bad magic number, dtype code, dimensions or length.
    """
    import numpy as np

    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        first = data[:4].hex() or "missing"
        raise DatasetError(f"{path}: not an IDX file (the first bytes are {first}, expected 0000xxyy).")
    code, dims_count = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise DatasetError(f"{path}: unknown IDX dtype code 0x{code:02x}; known: {known}.")
    if (ndim is not None and dims_count != ndim) or dims_count < min_ndim:
        want = f"{ndim}" if ndim is not None else f"at least {min_ndim}"
        raise DatasetError(
            f"{path}: the IDX header declares {dims_count} dimension(s), expected {want}. Is it the right file?"
        )
    header = 4 + 4 * dims_count
    if len(data) < header:
        raise DatasetError(f"{path}: truncated IDX header ({len(data)} bytes, need {header}).")
    shape = struct.unpack(f">{dims_count}I", data[4:header])
    dtype = np.dtype(IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise DatasetError(
            f"{path}: the IDX header declares shape {shape} of {dtype.name} ({expected} bytes) but the file holds "
            f"{len(data) - header} data bytes. The file is truncated or corrupt; download it again."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _read_pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    x = read_idx(images, min_ndim=2)
    y = read_idx(labels, ndim=1)
    if y.dtype.kind not in "iu" or (len(y) and y.min() < 0):
        raise DatasetError(f"{labels}: labels must be non-negative integers, got dtype {y.dtype}.")
    if len(x) != len(y):
        raise DatasetError(f"{images} holds {len(x)} images but {labels} holds {len(y)} labels; they must match.")
    return x, y.astype(np.int64)


def load_idx(options: IdxOptions | None, *, base_dir: Path, seed: int) -> DatasetBundle:
    """Load IDX image/label pairs (MNIST). Images keep their dtype (uint8 for MNIST), shape (N, H, W)."""
    opts = ensure_options(IdxOptions, options)
    base_dir = Path(base_dir)
    parts: dict[str, Part] = {}
    files: list[SourceFile] = []
    for split in ("train", "validation", "test"):
        keys = (f"{split}_images", f"{split}_labels")
        if getattr(opts, keys[0]) is None:
            continue
        paths = [resolve_file(getattr(opts, k), key=k, base_dir=base_dir, loader="idx") for k in keys]
        sources = tuple(source_file(p, role=k) for p, k in zip(paths, keys))
        x, y = _read_pair(*paths)
        if opts.shift is not None:
            from .shifts import apply_shift

            x = apply_shift(x, opts.shift, maxval=255.0 if x.dtype.name == "uint8" else 1.0)
        parts[split] = Part(x, y, sources)
        files.extend(sources)
    names, names_source = _label_names(opts, parts, base_dir)
    files.extend(names_source)
    return assemble(
        loader="idx", options=opts, parts=parts, label_names=names, modality="image", seed=seed, files=tuple(files)
    )


def _label_names(
    opts: IdxOptions, parts: Mapping[str, Part], base_dir: Path
) -> tuple[tuple[str, ...], tuple[SourceFile, ...]]:
    """The names from the ``label_names`` file (and its source), or '0'..'largest label'."""
    top = max((int(p.labels.max()) for p in parts.values() if len(p.labels)), default=-1)
    if not opts.label_names:
        return tuple(str(i) for i in range(top + 1)), ()
    path = resolve_file(opts.label_names, key="label_names", base_dir=base_dir, loader="idx")
    names = read_label_names(path)
    if top >= len(names):
        raise DatasetError(f"{path}: lists {len(names)} label names but the label files use labels up to {top}.")
    return names, (source_file(path, role="label_names"),)
