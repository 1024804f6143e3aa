"""Progress of long work (encoding features, downloads, compression passes, sweep trials), in one place.

:func:`progress` wraps an iterable. On a terminal it is a tqdm bar with rate and ETA; when the
output is not a terminal (a log file, CI) it prints a plain line now and then (every
``PLAIN_EVERY_S`` seconds, and at the end); when progress is off it is the iterable itself.

Progress is off by default, so library calls print nothing; a command turns it on for its
duration with ``with progress_enabled(not args.quiet): ...`` (``--quiet`` silences it), and a
caller can force it for one call with ``enabled=True``.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import IO, Iterable, Iterator, TypeVar

__all__ = ["progress", "progress_enabled", "is_enabled", "PLAIN_EVERY_S"]

T = TypeVar("T")

PLAIN_EVERY_S = 10.0
"""Seconds between two plain progress lines when the output is not a terminal."""

_enabled = False


def is_enabled() -> bool:
    """Whether progress is on (inside :func:`progress_enabled`)."""
    return _enabled


@contextlib.contextmanager
def progress_enabled(on: bool = True) -> Iterator[None]:
    """Turn progress on (or off) for the duration of the block."""
    global _enabled
    before, _enabled = _enabled, bool(on)
    try:
        yield
    finally:
        _enabled = before


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60:02d}:{seconds % 60:02d}"


def _plain(items: Iterable[T], *, total: int | None, desc: str, unit: str, stream: IO[str],
           every: float) -> Iterator[T]:
    start = last = time.monotonic()
    done = 0

    def line() -> str:
        elapsed = time.monotonic() - start
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{desc}: {done}" + (f"/{total} ({100 * done / total:.0f}%)" if total else "")
        text += f" {unit}, {rate:.1f} {unit}/s, {_duration(elapsed)} elapsed"
        if total and rate > 0 and done < total:
            text += f", ETA {_duration((total - done) / rate)}"
        return text

    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every and (total is None or done < total):
            print(line(), file=stream, flush=True)
            last = now
    print(line(), file=stream, flush=True)


def progress(items: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it",
             enabled: bool | None = None, stream: IO[str] | None = None,
             every: float = PLAIN_EVERY_S) -> Iterable[T]:
    """``items``, reporting progress as it is consumed (see the module docstring).

    ``enabled=None`` follows :func:`progress_enabled`; ``total`` defaults to ``len(items)``
    where there is one; ``stream`` defaults to ``sys.stderr``.
    """
    if not (is_enabled() if enabled is None else enabled):
        return items
    stream = sys.stderr if stream is None else stream
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if _isatty(stream):
        from tqdm import tqdm

        return tqdm(items, desc=desc, total=total, unit=unit, file=stream, leave=False, dynamic_ncols=True)
    return _plain(items, total=total, desc=desc, unit=unit, stream=stream, every=every)

