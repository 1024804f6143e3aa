"""Deterministic, stratified splitting: carving validation/test splits and K-fold indices.

Every function is a pure function of the labels and the seed: the same inputs give identical
index arrays on every run. Returned indices are sorted, so subsets keep the file order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import DatasetError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["stratified_split", "carve_splits", "kfold", "limit_split"]


def stratified_split(labels: np.ndarray, *, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(len(labels))`` into ``(kept, held_out)``; ``held_out`` is ``fraction`` of it.

    Uses :func:`sklearn.model_selection.train_test_split` with ``stratify=labels`` and
    ``random_state=seed``.

    Raises:
        DatasetError: if a class is too small to be stratified or ``fraction`` leaves a side empty.
    """
    import numpy as np
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels), dtype=np.int64)
    try:
        kept, held = train_test_split(index, test_size=fraction, stratify=labels, random_state=seed)
    except ValueError as exc:
        raise DatasetError(
            f"cannot carve a stratified {fraction:g} split from {len(labels)} examples: {exc} "
            "Lower or raise the fraction, or give the split as a file."
        ) from exc
    return np.sort(kept), np.sort(held)


def carve_splits(
    labels: np.ndarray, *, validation_fraction: float = 0.0, test_fraction: float = 0.0, seed: int
) -> dict[str, np.ndarray]:
    """Carve stratified ``test`` and ``validation`` index sets out of one labelled split.

    Both fractions are of the whole input. ``test`` is carved first, then ``validation`` from the
    rest, so changing ``validation_fraction`` never changes the test set. Returns a dict with
    ``train`` and whichever of ``validation``/``test`` have a fraction above zero.
    """
    import numpy as np

    if validation_fraction < 0 or test_fraction < 0 or validation_fraction + test_fraction >= 1:
        raise DatasetError(
            f"validation_fraction={validation_fraction} and test_fraction={test_fraction} must be >= 0 "
            "and sum to less than 1."
        )
    rest = np.arange(len(labels), dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    if test_fraction > 0:
        rest, out["test"] = stratified_split(labels, fraction=test_fraction, seed=seed)
    if validation_fraction > 0:
        kept, held = stratified_split(labels[rest], fraction=validation_fraction / (1 - test_fraction), seed=seed)
        rest, out["validation"] = rest[kept], rest[held]
    out["train"] = rest
    return out


def kfold(labels: np.ndarray, n_splits: int = 10, *, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K-fold ``(train_idx, test_idx)`` pairs, shuffled with ``seed`` (SentEval protocol).

    Raises:
        DatasetError: if ``n_splits`` is below 2 or larger than the smallest class.
    """
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    if n_splits < 2:
        raise DatasetError(f"kfold needs n_splits >= 2, got {n_splits}.")
    counts = np.bincount(labels)
    present = counts[counts > 0]
    smallest = int(present.min()) if present.size else 0
    if smallest < n_splits:
        raise DatasetError(
            f"kfold with n_splits={n_splits}: the smallest class has only {smallest} examples. "
            "Use fewer folds or a dataset with more examples per class."
        )
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [(np.sort(tr), np.sort(te)) for tr, te in splitter.split(np.zeros(len(labels)), labels)]


def limit_split(split: Any, limit: int | None, seed: int) -> Any:
    """At most ``limit`` examples of ``split``: a stratified seeded subset (a plain one when
    stratifying is impossible); the split itself when it is small enough or ``limit`` is None."""
    if split is None or limit is None or limit >= len(split):
        return split
    if not split.labeled:
        import numpy as np

        return split.subset(np.sort(np.random.default_rng(seed).permutation(len(split))[:limit]), name=split.name)
    import numpy as np

    try:
        kept, _ = stratified_split(split.labels, fraction=1 - limit / len(split), seed=seed)
    except DatasetError:
        kept = np.sort(np.random.default_rng(seed).permutation(len(split))[:limit])
    return split.subset(kept, name=split.name)
