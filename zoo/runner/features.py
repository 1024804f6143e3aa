"""An on-disk cache of frozen-backbone features, safe to share between processes.

A second probe on the same backbone and data skips the forward pass. An entry is keyed by the
sha256 of the canonical JSON of everything that determines the features:

* ``weights_sha256``: the backbone's weights (the runner passes a digest of every verified file);
* ``dataset_fingerprint`` and ``split``: which data;
* ``inputs``: the sha256 of the exact inputs encoded, so a subset or a reordering of a split
  never hits another's entry;
* ``preprocessing``: canonical JSON of what turns an input into features besides the weights
  (``max_seq_length``, ``pooling``, ``normalize``, ``text_prefix``, ...);
* ``batch_size``, the torch version and the device type: they can change the last bits of the
  features, and cached features must be byte-identical to recomputed ones;
* the code version: ``zoo.__version__`` and :data:`FEATURES_FORMAT`.

Layout under ``root``: ``ab/abcdef....npy`` (the float32 array, ``numpy.save`` format), a
``.json`` sidecar (the key's parts, shape, dtype and the array file's sha256) and a ``.lock``
file. Both files are written to a temporary name and renamed into place (``os.replace``); the
sidecar is written last and is the entry's commit mark, and a hit re-checks the array file
against the sidecar's sha256 (streamed), so a half-written or truncated file is never returned;
the array is then memory-mapped read-only (``numpy.load(mmap_mode="r")``), so a hit costs
no second copy in memory: pages are read as the probe touches them. Writers of
one key serialize on ``fcntl.flock`` of its lock file: when two processes miss at once, the
second waits and then reads what the first wrote. Where ``fcntl`` does not exist (Windows)
there is no lock; the atomic renames still keep every entry whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from .._atomic import atomic_write
from .._hashing import CHUNK_SIZE
from ..data.hashing import canonical_json

__all__ = ["FEATURES_FORMAT", "CacheStats", "FeatureCache", "encode", "inputs_digest", "weights_digest"]

FEATURES_FORMAT = "zoo.features/2"  # 2: encode packs batches (features differ in the last bits)
"""Bumped whenever the cache layout or the meaning of a key part changes."""


@dataclass
class CacheStats:
    """What a :class:`FeatureCache` did: ``hits`` (served from disk, ``waited`` of them after
    waiting for another writer), ``misses`` (encoded and stored) and ``rejected`` (entries found
    corrupt and recomputed)."""

    hits: int = 0
    misses: int = 0
    waited: int = 0
    rejected: int = 0


def _map_npy(fh: Any) -> np.ndarray:
    """Memory-map the ``.npy`` file open as ``fh`` read-only (numpy.load's mmap_mode needs a path)."""
    fh.seek(0)
    version = np.lib.format.read_magic(fh)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(fh)
    if dtype.hasobject:
        raise ValueError("object arrays are not features")
    if 0 in shape:
        return np.empty(shape, dtype=dtype)
    mapped = np.memmap(fh, dtype=dtype, mode="r", shape=shape, order="F" if fortran else "C", offset=fh.tell())
    return mapped.view(np.ndarray)  # a plain read-only array backed by the mapping


def inputs_digest(inputs: Sequence[Any] | np.ndarray) -> str:
    """sha256 naming the exact inputs, in order: texts (UTF-8, length-prefixed) or an array."""
    h = hashlib.sha256()
    if isinstance(inputs, np.ndarray):
        arr = np.ascontiguousarray(inputs)
        h.update(f"ndarray:{arr.dtype.str}:{arr.shape}".encode())
        h.update(arr.tobytes())
        return h.hexdigest()
    h.update(f"texts:{len(inputs)}".encode())
    for text in inputs:
        data = str(text).encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def weights_digest(resolved: Any) -> str:
    """One sha256 naming a backbone's weights: over each verified file's name and sha256."""
    from ..data.hashing import fingerprint

    return fingerprint({"repo": resolved.repo_id, "revision": resolved.revision,
                        "files": dict(sorted(resolved.sha256.items()))})


def encode(backbone: Any, inputs: Sequence[Any] | np.ndarray, *, batch_size: int) -> np.ndarray:
    """Pooled features ``(N, dim)`` float32 of raw inputs, in input order.

    A backbone with its own ``encode(items, batch_size=...)`` (the text encoder's, batched longest
    first) uses it; any other :class:`zoo.contracts.Backbone` is run batch by batch through
    ``preprocess`` and ``forward_features`` in eval and inference mode.
    """
    items = inputs if isinstance(inputs, np.ndarray) else list(inputs)
    own = getattr(backbone, "encode", None)
    if callable(own):
        return np.asarray(own(items, batch_size=batch_size))
    import torch

    was_training = backbone.training
    backbone.eval()
    chunks = []
    try:
        with torch.inference_mode():
            for start in range(0, len(items), batch_size):
                batch = backbone.preprocess(items[start:start + batch_size])
                chunks.append(backbone.forward_features(batch).float().cpu().numpy())
    finally:
        backbone.train(was_training)
    return np.concatenate(chunks) if chunks else np.zeros((0, backbone.embedding_dim), dtype=np.float32)


def _code_version() -> str:
    from .. import __version__

    return f"zoo {__version__}, {FEATURES_FORMAT}"


def _runtime(encoder: Any) -> dict[str, str]:
    """Facts about the machinery that can change the features' last bits."""
    facts: dict[str, str] = {}
    try:
        import torch

        facts["torch"] = torch.__version__
    except ImportError:  # pragma: no cover - a non-torch encoder
        pass
    device = getattr(encoder, "device", None)
    facts["device"] = str(getattr(device, "type", device or "cpu"))
    return facts


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: atomic renames only
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class FeatureCache:
    """Frozen-backbone features on disk under ``root`` (default: ``settings().feature_cache``).

    >>> cache = FeatureCache(settings().feature_cache)                       # doctest: +SKIP
    >>> x = cache.get_or_compute(encoder, split.inputs, weights_sha256=digest,  # doctest: +SKIP
    ...                          dataset_fingerprint=split.fingerprint, split="train",
    ...                          preprocessing={"max_seq_length": 256, "pooling": "mean"},
    ...                          batch_size=64)
    """

    def __init__(self, root: str | os.PathLike[str] | None = None):
        if root is None:
            from ..config import settings

            root = settings().feature_cache
        self.root = Path(root)
        self.stats = CacheStats()

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r}, stats={self.stats})"

    # keys ---------------------------------------------------------------------------------

    def key_parts(
        self,
        encoder: Any,
        inputs: Sequence[Any] | np.ndarray,
        *,
        weights_sha256: str,
        dataset_fingerprint: str,
        split: str,
        preprocessing: Mapping[str, Any],
        batch_size: int,
    ) -> dict[str, Any]:
        """Everything the key is a hash of (also stored in the sidecar, for inspection)."""
        return {
            "weights_sha256": str(weights_sha256),
            "dataset_fingerprint": str(dataset_fingerprint),
            "split": str(split),
            "inputs_sha256": inputs_digest(inputs),
            "n_inputs": len(inputs),
            "preprocessing": json.loads(canonical_json(dict(preprocessing))),
            "batch_size": int(batch_size),
            "runtime": _runtime(encoder),
            "code": _code_version(),
        }

    def key(self, encoder: Any, inputs: Sequence[Any] | np.ndarray, **parts: Any) -> str:
        """The hex sha256 key of an entry; takes the keyword arguments of :meth:`get_or_compute`."""
        return hashlib.sha256(canonical_json(self.key_parts(encoder, inputs, **parts)).encode()).hexdigest()

    def _paths(self, key: str) -> tuple[Path, Path, Path]:
        base = self.root / key[:2] / key
        return base.with_suffix(".npy"), base.with_suffix(".json"), base.with_suffix(".lock")

    # reading and writing --------------------------------------------------------------------

    def _read(self, key: str) -> tuple[np.ndarray | None, bool]:
        """``(array, False)`` for a complete, intact entry; ``(None, corrupt)`` otherwise.

        An entry without its sidecar is incomplete (a writer is at work or died), not corrupt.
        """
        array_path, meta_path, _ = self._paths(key)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            fh = array_path.open("rb")
        except FileNotFoundError:
            return None, False
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None, True
        with fh:  # one open file: the bytes hashed are the bytes mapped
            h = hashlib.sha256()
            while chunk := fh.read(CHUNK_SIZE):
                h.update(chunk)
            if meta.get("key") != key or h.hexdigest() != meta.get("sha256"):
                return None, True
            try:
                array = _map_npy(fh)
            except ValueError:
                return None, True
        if list(array.shape) != meta.get("shape") or array.dtype.str != meta.get("dtype"):
            return None, True
        return array, False

    def _write(self, key: str, array: np.ndarray, parts: Mapping[str, Any]) -> None:
        array_path, meta_path, _ = self._paths(key)
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=False)
        data = buf.getvalue()
        with atomic_write(array_path, "wb") as fh:
            fh.write(data)
        meta = {"key": key, "shape": list(array.shape), "dtype": array.dtype.str,
                "sha256": hashlib.sha256(data).hexdigest(), "parts": dict(parts)}
        with atomic_write(meta_path, "w") as fh:  # the commit mark: written last
            fh.write(json.dumps(meta, indent=1, sort_keys=True) + "\n")

    def get_or_compute(
        self,
        encoder: Any,
        inputs: Sequence[Any] | np.ndarray,
        *,
        weights_sha256: str,
        dataset_fingerprint: str,
        split: str,
        preprocessing: Mapping[str, Any],
        batch_size: int,
    ) -> np.ndarray:
        """The features of ``inputs``: from disk on a hit, else :func:`encode` then stored.

        Returns a float32 array ``(len(inputs), dim)``.

        Raises:
            ValueError: the encoder returned an array whose first dimension is not ``len(inputs)``.
            OSError: the cache directory cannot be written.
        """
        parts = self.key_parts(encoder, inputs, weights_sha256=weights_sha256,
                               dataset_fingerprint=dataset_fingerprint, split=split,
                               preprocessing=preprocessing, batch_size=batch_size)
        key = hashlib.sha256(canonical_json(parts).encode()).hexdigest()
        found, _ = self._read(key)
        if found is not None:
            self.stats.hits += 1
            return found
        with _locked(self._paths(key)[2]):
            found, corrupt = self._read(key)  # another process may have written it while we waited
            if found is not None:
                self.stats.hits += 1
                self.stats.waited += 1
                return found
            self.stats.rejected += int(corrupt)
            items = inputs if isinstance(inputs, np.ndarray) else list(inputs)
            array = np.ascontiguousarray(encode(encoder, items, batch_size=batch_size), dtype=np.float32)
            if array.ndim < 1 or array.shape[0] != len(inputs):
                raise ValueError(f"the encoder returned shape {array.shape} for {len(inputs)} inputs.")
            self._write(key, array, parts)
            self.stats.misses += 1
        return array

    def contains(self, key: str) -> bool:
        """Whether a complete, intact entry with ``key`` is stored."""
        return self._read(key)[0] is not None

    def entries(self) -> list[dict[str, Any]]:
        """The sidecars of every stored entry (key, shape, dtype, sha256, key parts)."""
        out = []
        for meta_path in sorted(self.root.glob("??/*.json")):
            with contextlib.suppress(OSError, json.JSONDecodeError):
                out.append(json.loads(meta_path.read_text(encoding="utf-8")))
        return out

    def clear(self) -> int:
        """Delete every entry (and stray temporary files); return how many entries were removed."""
        if not self.root.is_dir():
            return 0
        removed = len(list(self.root.glob("??/*.json")))
        for sub in self.root.iterdir():
            if sub.is_dir() and len(sub.name) == 2:
                shutil.rmtree(sub, ignore_errors=True)
        return removed
