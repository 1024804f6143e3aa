"""Image dataset loaders: image folders, CIFAR python batches, NumPy ``.npz`` files.

Inputs are what an image backbone's ``preprocess`` takes (:mod:`zoo.models.image`):

- ``image-folder``: ``root/<class>/<file>.png|jpg|...`` read with Pillow. The split holds the
  file paths (a numpy object array), so images are decoded lazily, batch by batch, when the
  backbone preprocesses them. The provenance hashes every file (one digest per split).
- ``cifar``: the CIFAR-10/100 "python version" batches. They are pickles, so they are read with
  a restricted unpickler that builds only dicts, lists, strings, bytes, numbers and numpy
  arrays; anything else (a pickle that would call a function) raises :class:`DatasetError`.
- ``npz``: ``np.load(allow_pickle=False)`` of arrays ``x`` (``(N, H, W[, C])`` uint8, or float in
  ``[0, 1]``; ``scale`` divides other ranges, e.g. 16 for digits) and ``y`` (integer labels).
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DatasetError, OptionsError
from .build import Part, assemble
from .dataset import DatasetBundle, SourceFile
from .options import SplitOptions, _opt, ensure_options
from .paths import resolve_file, source_file

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ImageFolderOptions",
    "CifarOptions",
    "NpzOptions",
    "load_image_folder",
    "load_cifar",
    "load_npz",
    "read_cifar_batch",
    "IMAGE_EXTENSIONS",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


# --- options -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ImageFolderOptions(SplitOptions):
    """Options of the ``image-folder`` loader: one sub-folder per class under each split's root."""

    modality = "image"
    train_dir: str = _opt("train", "folder of the train images: train_dir/<class>/<image>")
    validation_dir: str | None = _opt(None, "folder of the validation images (optional)")
    test_dir: str | None = _opt(None, "folder of the test images (optional)")
    extensions: tuple[str, ...] = _opt(IMAGE_EXTENSIONS, "file suffixes read as images (case-insensitive)")


@dataclass(frozen=True, kw_only=True)
class CifarOptions(SplitOptions):
    """Options of the ``cifar`` loader: CIFAR-10/100 python-version batch files."""

    modality = "image"
    root: str = _opt("cifar-10-batches-py", "folder holding the batch files")
    train_files: tuple[str, ...] = _opt(tuple(f"data_batch_{i}" for i in range(1, 6)), "train batch files in root")
    test_files: tuple[str, ...] = _opt(("test_batch",), "test batch files in root (empty: no test split)")
    meta_file: str | None = _opt("batches.meta", "meta file with the label names (None: '0', '1', ...)")
    label_key: str = _opt("labels", "labels key: 'labels' (CIFAR-10), 'fine_labels' or 'coarse_labels' (CIFAR-100)")


@dataclass(frozen=True, kw_only=True)
class NpzOptions(SplitOptions):
    """Options of the ``npz`` loader: NumPy ``.npz`` files of images and labels (no pickles)."""

    modality = "image"
    train: str = _opt("train.npz", ".npz file of the train split")
    validation: str | None = _opt(None, ".npz file of the validation split (optional)")
    test: str | None = _opt(None, ".npz file of the test split (optional)")
    x_key: str = _opt("x", "array of images (N, H, W) or (N, H, W, C)")
    y_key: str = _opt("y", "array of integer labels (N,)")
    scale: float = _opt(1.0, "divide float images by this to bring them into [0, 1] (e.g. 16 for sklearn digits)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.scale > 0:
            raise OptionsError(f"option 'scale': must be positive, got {self.scale}.")


# --- image folders -------------------------------------------------------------------------


def _folder_files(root: Path, extensions: tuple[str, ...]) -> list[tuple[str, Path]]:
    exts = {e.lower() for e in extensions}
    return [(cls.name, f) for cls in sorted(p for p in root.iterdir() if p.is_dir())
            for f in sorted(cls.rglob("*")) if f.is_file() and f.suffix.lower() in exts]


def _digest_files(root: Path, files: list[tuple[str, Path]], role: str) -> SourceFile:
    from .._hashing import sha256_file

    h = hashlib.sha256()
    size = 0
    for _, path in files:
        h.update(f"{path.relative_to(root).as_posix()}\t{sha256_file(path)}\n".encode())
        size += path.stat().st_size
    return SourceFile(role=role, path=str(root.resolve()), sha256=h.hexdigest(), size=size)


def load_image_folder(options: ImageFolderOptions | None, *, base_dir: Path, seed: int) -> DatasetBundle:
    """Load ``<split_dir>/<class>/<image>`` folders; inputs are file paths, decoded lazily."""
    import numpy as np

    opts = ensure_options(ImageFolderOptions, options)
    parts: dict[str, Part] = {}
    sources: list[SourceFile] = []
    classes: tuple[str, ...] | None = None
    for split in ("train", "validation", "test"):
        value = getattr(opts, f"{split}_dir")
        if value is None:
            continue
        root = Path(value).expanduser()
        root = root if root.is_absolute() else Path(base_dir) / root
        if not root.is_dir():
            raise DatasetError(f"image-folder: option '{split}_dir' names {root}, which is not a folder.")
        files = _folder_files(root, opts.extensions)
        if not files:
            raise DatasetError(f"image-folder: {root} holds no <class>/<image> files with suffixes {opts.extensions}.")
        names = tuple(sorted({c for c, _ in files}))
        if classes is None:
            classes = names
        elif set(names) - set(classes):
            raise DatasetError(f"image-folder: {root} has classes {sorted(set(names) - set(classes))} "
                               f"that the train folder lacks.")
        index = {c: i for i, c in enumerate(classes)}
        source = _digest_files(root, files, f"{split}_dir")
        inputs = np.array([str(p) for _, p in files], dtype=object)
        parts[split] = Part(inputs, np.array([index[c] for c, _ in files], dtype=np.int64), (source,))
        sources.append(source)
    assert classes is not None  # train_dir is required
    return assemble(loader="image-folder", options=opts, parts=parts, label_names=classes, modality="image",
                    seed=seed, files=tuple(sources))


# --- CIFAR python batches --------------------------------------------------------------------

_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"), ("_codecs", "encode"), ("builtins", "bytearray"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def read_cifar_batch(path: Path) -> dict[str, Any]:
    """One CIFAR python batch as a dict with str keys, read without running code.

    Raises:
        DatasetError: the file needs anything but plain data and numpy arrays, or is not a batch.
    """
    try:
        raw = _RestrictedUnpickler(io.BytesIO(Path(path).read_bytes()), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as exc:
        raise DatasetError(f"{path}: refused or unreadable CIFAR batch ({exc}). CIFAR batches hold only data; "
                           f"zoo does not unpickle anything else.") from exc
    if not isinstance(raw, dict):
        raise DatasetError(f"{path}: a CIFAR batch is a dict, got {type(raw).__name__}.")
    return {k.decode() if isinstance(k, bytes) else str(k): v for k, v in raw.items()}


def _cifar_part(root: Path, files: tuple[str, ...], label_key: str, role: str) -> tuple[Any, Any, list[SourceFile]]:
    import numpy as np

    xs, ys, sources = [], [], []
    for name in files:
        path = resolve_file(str(root / name), key=role, base_dir=root, loader="cifar")
        batch = read_cifar_batch(path)
        if "data" not in batch or label_key not in batch:
            raise DatasetError(f"{path}: a CIFAR batch needs 'data' and {label_key!r}; it has {sorted(batch)}.")
        data = np.asarray(batch["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DatasetError(f"{path}: 'data' must be (N, 3072) uint8, got {data.shape}.")
        labels = np.asarray(batch[label_key], dtype=np.int64)
        if len(labels) != len(data):
            raise DatasetError(f"{path}: {len(data)} images but {len(labels)} labels.")
        xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(labels)
        sources.append(source_file(path, role=role))
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys), sources


def load_cifar(options: CifarOptions | None, *, base_dir: Path, seed: int) -> DatasetBundle:
    """Load CIFAR python batches; inputs are ``(N, 32, 32, 3)`` uint8 arrays."""
    opts = ensure_options(CifarOptions, options)
    root = Path(opts.root).expanduser()
    root = root if root.is_absolute() else Path(base_dir) / root
    parts: dict[str, Part] = {}
    files: list[SourceFile] = []
    for split, names in (("train", opts.train_files), ("test", opts.test_files)):
        if names:
            x, y, src = _cifar_part(root, tuple(names), opts.label_key, f"{split}_files")
            parts[split] = Part(x, y, tuple(src))
            files.extend(src)
    top = max(int(p.labels.max()) for p in parts.values())
    label_names: tuple[str, ...] = tuple(str(i) for i in range(top + 1))
    if opts.meta_file:
        meta_path = resolve_file(str(root / opts.meta_file), key="meta_file", base_dir=root, loader="cifar")
        meta = read_cifar_batch(meta_path)
        key = next((k for k in ("label_names", "fine_label_names", "coarse_label_names") if k in meta), None)
        if key is None:
            raise DatasetError(f"{meta_path}: no label_names in the meta file (keys {sorted(meta)}).")
        label_names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta[key])
        files.append(source_file(meta_path, role="meta_file"))
    return assemble(loader="cifar", options=opts, parts=parts, label_names=label_names, modality="image", seed=seed,
                    files=tuple(files))


# --- npz ---------------------------------------------------------------------------------------


def _npz_part(path: Path, opts: NpzOptions) -> tuple[Any, Any]:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            if opts.x_key not in data or opts.y_key not in data:
                raise DatasetError(f"{path}: needs arrays {opts.x_key!r} and {opts.y_key!r}; it has {sorted(data)}.")
            x, y = data[opts.x_key], data[opts.y_key]
    except ValueError as exc:  # object arrays need pickle: refused
        raise DatasetError(f"{path}: {exc}. Save plain numeric arrays (no object arrays).") from exc
    if x.ndim not in (3, 4) or len(x) != len(y):
        raise DatasetError(f"{path}: {opts.x_key!r} must be (N, H, W[, C]) with one label per image; "
                           f"got {x.shape} images and {y.shape} labels.")
    if y.dtype.kind not in "iu" or (len(y) and y.min() < 0):
        raise DatasetError(f"{path}: labels must be non-negative integers, got {y.dtype}.")
    if x.dtype != np.uint8:
        x = x.astype(np.float32) / np.float32(opts.scale)
        if x.size and (x.min() < 0 or x.max() > 1):
            raise DatasetError(f"{path}: float images divided by scale={opts.scale} span [{x.min()}, {x.max()}], "
                               f"not [0, 1]. Set the 'scale' option to the largest pixel value.")
    return x, y.astype(np.int64)


def load_npz(options: NpzOptions | None, *, base_dir: Path, seed: int) -> DatasetBundle:
    """Load ``.npz`` image/label arrays per split."""
    opts = ensure_options(NpzOptions, options)
    parts: dict[str, Part] = {}
    files: list[SourceFile] = []
    for split in ("train", "validation", "test"):
        value = getattr(opts, split)
        if value is None:
            continue
        path = resolve_file(value, key=split, base_dir=Path(base_dir), loader="npz")
        x, y = _npz_part(path, opts)
        src = source_file(path, role=split)
        parts[split] = Part(x, y, (src,))
        files.append(src)
    top = max(int(p.labels.max()) for p in parts.values() if len(p.labels))
    return assemble(loader="npz", options=opts, parts=parts, label_names=tuple(str(i) for i in range(top + 1)),
                    modality="image", seed=seed, files=tuple(files))
