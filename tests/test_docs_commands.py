"""Every shell block in docs/ runs, so the guide cannot drift from the command line.

Each fenced ``bash``/``sh``/``shell``/``console`` block of a page runs with ``bash -e`` in a
working folder of its own page, against a temporary home (``ZOO_HOME``, ``HF_HOME`` in tmp), a
Hub cache seeded with the real all-MiniLM-L6-v2 files and the local Hub of tests/hubserver.py
(``HF_ENDPOINT``), so nothing reaches the network. The folder holds what a user's checkout
holds (``examples/``, ``plugins/``, the data folders, and ``../shared/data`` beside it) and every ``toml`` block of the page that
starts with ``# file: NAME`` (the page tells the reader to save it as NAME).

A block that must not run starts with the visible line ``# docs-test: skip: REASON``; the
reasons are listed in the test report, and the number of such blocks is capped so they stay few.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SHELLS = ("bash", "sh", "shell", "console")
SKIP = re.compile(r"^# docs-test: skip: (.+)$")
FILE = re.compile(r"^# file: ([\w.-]+)$")
MAX_SKIPPED = 17
"""At most this many blocks may be skipped (each names why, visibly, in the docs)."""

_FENCE = re.compile(r"^(```+)([\w+-]*)[^\n]*\n(.*?)^\1\s*$", re.M | re.S)


def blocks(page: Path) -> list[tuple[str, str, int]]:
    """``(language, body, line)`` of every fenced block of ``page``."""
    text = page.read_text(encoding="utf-8")
    return [(m.group(2), m.group(3), text.count("\n", 0, m.start()) + 1) for m in _FENCE.finditer(text)]


def shell_blocks() -> list[tuple[Path, str, int]]:
    return [(page, body, line) for page in sorted(DOCS.glob("*.md")) for lang, body, line in blocks(page)
            if lang in SHELLS]


def _skip_reason(body: str) -> str | None:
    m = SKIP.match(body.splitlines()[0]) if body.strip() else None
    return m.group(1) if m else None


def test_few_blocks_are_skipped_and_each_says_why():
    found = shell_blocks()
    skipped = [(p.name, line, _skip_reason(body)) for p, body, line in found if _skip_reason(body)]
    assert len(found) - len(skipped) >= 10, "the docs must keep at least ten shell blocks that run"
    assert len(skipped) <= MAX_SKIPPED, skipped
    assert all(reason and len(reason) > 10 for _, _, reason in skipped), skipped


@pytest.fixture
def docs_env(tmp_path, warm_cache, hub_server, minilm_dir, shared_data):
    """The environment of a reader's shell: zoo on PATH, a temporary home, a local Hub."""
    from hubserver import MINILM_COMMIT, MINILM_REPO_ID

    hub_server.add_repo_from_dir(MINILM_REPO_ID, minilm_dir, commit_sha=MINILM_COMMIT)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "zoo"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m zoo "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "HF_ENDPOINT": hub_server.url, "OMP_NUM_THREADS": "1", "NO_COLOR": "1"}
    return env


def _workdir(tmp_path: Path, page: Path, shared_data: Path) -> Path:
    work = tmp_path / "work" / page.stem
    if work.is_dir():
        return work
    work.mkdir(parents=True)
    for name in ("examples", "plugins"):
        (work / name).symlink_to(REPO / name, target_is_directory=True)
    if not (work.parent / "shared").exists():  # pages that name ../shared/data, as from a checkout
        (work.parent / "shared").symlink_to(shared_data.parent, target_is_directory=True)
    for data in shared_data.iterdir():
        if data.is_dir() and not (work / data.name).exists():
            (work / data.name).symlink_to(data, target_is_directory=True)
    for lang, body, _ in blocks(page):
        first = body.splitlines()[0] if body.strip() else ""
        if lang == "toml" and FILE.match(first):
            (work / FILE.match(first).group(1)).write_text(body, encoding="utf-8")
    return work


@pytest.mark.parametrize("page,body,line", [pytest.param(p, b, n, id=f"{p.name}:{n}") for p, b, n in shell_blocks()])
def test_shell_block_runs(page, body, line, docs_env, tmp_path, shared_data):
    reason = _skip_reason(body)
    if reason:
        pytest.skip(f"docs/{page.name}:{line} is marked: {reason}")
    work = _workdir(tmp_path, page, shared_data)
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", body], cwd=work, env=docs_env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (f"docs/{page.name}:{line} failed (exit {result.returncode}):\n{body}\n"
                                    f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}")
    assert "Traceback (most recent call last)" not in result.stderr, result.stderr[-3000:]
