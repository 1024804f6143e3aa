"""Label names and the mapping from label strings to integer ids.

The label order is fixed either by a JSON list file (``label_names`` option, e.g. Banking77's
``categories.json``) or by sorting the train labels (numerically when they are all integers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..errors import DatasetError, did_you_mean

if TYPE_CHECKING:
    import numpy as np

    from .readers import TextRows

__all__ = ["label_order", "read_label_names", "encode_labels"]


def label_order(labels: Sequence[str]) -> tuple[str, ...]:
    """The distinct labels, sorted; numerically if every label is an integer ("2" before "10")."""
    distinct = set(labels)
    try:
        return tuple(sorted(distinct, key=int))
    except ValueError:
        return tuple(sorted(distinct))


def read_label_names(path: Path) -> tuple[str, ...]:
    """Read a JSON list of distinct label names.

    Raises:
        DatasetError: if the file is not a JSON list of distinct strings.
    """
    try:
        names = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: label_names must be a UTF-8 JSON list of strings ({exc}).") from exc
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise DatasetError(f"{path}: label_names must be a non-empty JSON list of strings, like [\"neg\", \"pos\"].")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise DatasetError(f"{path}: label_names lists {dupes} more than once; each name must appear once.")
    return tuple(names)


def encode_labels(rows: TextRows, names: tuple[str, ...], *, names_from: str) -> np.ndarray:
    """Map each label string of ``rows`` to its index in ``names`` (int64).

    ``names_from`` says where ``names`` came from, for the error message.

    Raises:
        DatasetError: naming the file and line of the first label that is not in ``names``.
    """
    import numpy as np

    index = {name: i for i, name in enumerate(names)}
    ids = np.empty(len(rows.labels), dtype=np.int64)
    for i, label in enumerate(rows.labels):
        found = index.get(label)
        if found is None:
            raise DatasetError(
                f"{rows.path}:{rows.lines[i]}: label {label!r} is not among the {len(names)} labels of "
                f"{names_from}.{did_you_mean(label, names)} Fix the row, or give a label_names file that lists it."
            )
        ids[i] = found
    return ids
