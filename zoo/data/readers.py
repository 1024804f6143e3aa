"""Read labelled text files into rows of (text, label, line number).

Each reader decodes the whole file with the given encoding first, so a decoding error names the
file and line. Lines are split on ``\\n`` only (``str.splitlines`` would also split on the
Latin-1 control characters that SentEval's files contain). Malformed rows raise
:class:`~zoo.errors.DatasetError` naming the file and line.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import DatasetError, did_you_mean

__all__ = ["TextRows", "read_text", "iter_lines", "read_table", "read_jsonl", "read_text_label_lines", "read_lines"]


@dataclass
class TextRows:
    """Texts and their label strings read from one file, with the line number of each row."""

    path: Path
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def add(self, text: str, label: str, line: int) -> None:
        """Append one row; an empty text is refused (it would be encoded as padding alone)."""
        if not text.strip():
            raise DatasetError(f"{self.path}:{line}: the text is empty. Remove the row or fill in its text.")
        self.texts.append(text)
        self.labels.append(label)
        self.lines.append(line)


def read_text(path: Path, *, encoding: str) -> str:
    """Decode the whole file; a decoding error names the line and suggests another encoding."""
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DatasetError(
            f"{path}:{line}: cannot decode byte 0x{data[exc.start]:02x} as {encoding}. "
            "Set the dataset option encoding (e.g. encoding = \"latin-1\") to the file's encoding."
        ) from exc
    return text.removeprefix("\ufeff")


def iter_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` split on ``\\n`` only, without the line ending."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        yield number, line.removesuffix("\r")


def _column(header: list[str], name: str, *, option: str, path: Path) -> int:
    if name in header:
        return header.index(name)
    raise DatasetError(
        f"{path}:1: no column {name!r} (option {option!r}).{did_you_mean(name, header)} "
        f"The header has: {', '.join(repr(h) for h in header)}. Set {option} to one of them."
    )


def read_table(
    path: Path,
    *,
    encoding: str,
    text_column: str,
    label_column: str,
    delimiter: str = ",",
    quoting: int = csv.QUOTE_MINIMAL,
) -> TextRows:
    """Read a delimited file with a header row (CSV with quotes, or TSV with ``quoting=QUOTE_NONE``)."""
    text = io.StringIO(read_text(path, encoding=encoding), newline="")
    reader = csv.reader(text, delimiter=delimiter, quoting=quoting)
    rows = TextRows(path)
    try:
        header = next(reader, None)
        if not header:
            raise DatasetError(f"{path}:1: the file is empty; expected a header row naming the columns.")
        ti = _column(header, text_column, option="text_column", path=path)
        li = _column(header, label_column, option="label_column", path=path)
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise DatasetError(
                    f"{path}:{reader.line_num}: expected {len(header)} fields like the header, got {len(row)}. "
                    "Quote fields that contain the delimiter, or fix the row."
                )
            rows.add(row[ti], row[li].strip(), reader.line_num)
    except csv.Error as exc:
        raise DatasetError(f"{path}:{reader.line_num}: malformed row: {exc}.") from exc
    return rows


def read_jsonl(path: Path, *, encoding: str, text_column: str, label_column: str) -> TextRows:
    """Read one JSON object per line; ``text_column`` and ``label_column`` name its keys."""
    rows = TextRows(path)
    for number, line in iter_lines(read_text(path, encoding=encoding)):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno}).") from exc
        if not isinstance(obj, dict):
            raise DatasetError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}.")
        for key, option in ((text_column, "text_column"), (label_column, "label_column")):
            if key not in obj:
                raise DatasetError(
                    f"{path}:{number}: no key {key!r} (option {option!r}).{did_you_mean(key, list(obj))} "
                    f"The object has: {', '.join(repr(k) for k in obj)}."
                )
        text, label = obj[text_column], obj[label_column]
        if not isinstance(text, str) or isinstance(label, (dict, list, float)) or label is None:
            raise DatasetError(
                f"{path}:{number}: expected a string text and a string or integer label, got {text!r} / {label!r}."
            )
        rows.add(text, str(label).strip(), number)
    return rows


def read_text_label_lines(path: Path, *, encoding: str) -> TextRows:
    """Read ``text<TAB>label`` lines without a header (SST2); the label follows the last tab."""
    rows = TextRows(path)
    for number, line in iter_lines(read_text(path, encoding=encoding)):
        if not line.strip():
            continue
        text, tab, label = line.rpartition("\t")
        if not tab or not label.strip():
            raise DatasetError(f"{path}:{number}: expected `text<TAB>label`, got {line[:60]!r}.")
        rows.add(text.strip(), label.strip(), number)
    return rows


def read_lines(path: Path, *, encoding: str, skip_blank: bool = False) -> list[str]:
    """Read one example per line (SentEval) and return the stripped lines."""
    lines = (line.strip() for _, line in iter_lines(read_text(path, encoding=encoding)))
    return [line for line in lines if line or not skip_blank]
