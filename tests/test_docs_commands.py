"""Every shell block in docs/ runs, so the guide cannot drift from the command line.

The blocks of a page run in order, as a reader types them into one shell: each fenced
``bash``/``sh``/``shell``/``console`` block runs with ``bash -e -o pipefail``, and the variables it
sets (``RUN=$(zoo runs last)``, ``export ZOO_REGISTRY=...``) and the folder it ``cd``-ed into carry
over to the page's next block. Selecting one block (``-k 'export.md:57'``) runs the page's earlier
blocks first.

The reader's machine, shared by every page, is offline except for the loopback:

* a temporary home (``ZOO_HOME``, ``HF_HOME``) whose Hub cache holds the real all-MiniLM-L6-v2
  files, and the local Hub of tests/hubserver.py (``HF_ENDPOINT``), which serves them and takes
  ``zoo push`` uploads;
* per page, a fresh virtual environment (``--without-pip``) that is the reader's Python: ``python``,
  ``zoo``, ``pip``, ``pytest`` and ``torchrun`` on ``PATH`` run it; this environment's packages are on its
  ``PYTHONPATH`` (behind the checkout's ``zoo``), so ``pip`` sees torch and the rest as installed and
  installs what a block asks into the fresh environment only (pip never uninstalls outside it);
* pip with no package index and no build isolation (``PIP_NO_INDEX``, ``PIP_NO_BUILD_ISOLATION``), as
  on an air-gapped machine, so installs of the checkout and its plugins build with the setuptools
  already installed;
* a working folder per page that holds what a checkout holds: ``pyproject.toml``, ``README.md`` and
  ``zoo/`` (linked), copies of ``examples/`` and ``plugins/`` (runs and builds land in the folder,
  never in the repository), the data folders, and ``../shared/data`` beside it; plus every ``toml``
  block of the page that starts with ``# file: NAME`` (the page tells the reader to save it as NAME).

A few values only the reader can know are given by the test: a line that assigns one of
:data:`READER_VALUES` (``DRIVE=/media/usb``, the reader's mount point) gets the test's value
instead. A block that starts ``zoo catalog serve`` runs until the page it serves has been fetched,
then gets Ctrl-C (SIGINT), as the reader would press it.

Every block runs: none may be skipped. A block marked ``# docs-test: skip: REASON`` (the old way
to leave one out) fails, naming the reason, so the guide cannot hold a command no test has run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SHELLS = ("bash", "sh", "shell", "console")
SKIP = re.compile(r"^# docs-test: skip: (.+)$")
FILE = re.compile(r"^# file: ([\w.-]+)$")

SERVE = re.compile(r"^zoo catalog serve\b", re.M)
SERVING = re.compile(r"serving .* at (http://127\.0\.0\.1:(\d+)/)")
CHECKOUT_LINKS = ("pyproject.toml", "README.md", "zoo")
CHECKOUT_COPIES = ("examples", "plugins")
_BUILD_LITTER = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "runs", "site")

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


def test_no_block_is_skipped():
    found = shell_blocks()
    assert len(found) >= 10, "the docs must keep at least ten shell blocks that run"
    skipped = [(p.name, line, _skip_reason(body)) for p, body, line in found if _skip_reason(body)]
    assert not skipped, f"every shell block in docs/ must run; these are marked to skip: {skipped}"


def with_reader_values(body: str, values: dict[str, str]) -> str:
    """``body`` with each assignment ``NAME=...`` (or ``export NAME=...``) of a name in ``values``
    starting a line given the test's value instead of the page's example."""
    for name, value in values.items():
        body = re.sub(rf"^((?:export )?{name}=)\S+", lambda m: m.group(1) + value, body, flags=re.M)
    return body


def test_reader_values_replace_only_the_assignment_of_that_name():
    body = "DRIVE=/media/usb   # mount point\nexport DRIVE=/x\nMYDRIVE=/y\necho $DRIVE\n"
    assert with_reader_values(body, {"DRIVE": "/tmp/d"}) == (
        "DRIVE=/tmp/d   # mount point\nexport DRIVE=/tmp/d\nMYDRIVE=/y\necho $DRIVE\n")


# --- the reader's machine -----------------------------------------------------------------------------


@dataclass
class Reader:
    """What every page shares: the home, the Hub cache, the local Hub, the environment."""

    root: Path
    env: dict[str, str]
    values: dict[str, str]
    shared_data: Path
    pages: dict[Path, PageShell] = field(default_factory=dict)

    def page(self, page: Path) -> PageShell:
        if page not in self.pages:
            self.pages[page] = PageShell.create(self, page)
        return self.pages[page]


@pytest.fixture(scope="module")
def reader(tmp_path_factory, shared_data, minilm_dir):
    from hubserver import MINILM_COMMIT, MINILM_REPO_ID, HubServer

    from zoo.config import settings
    from zoo.hub import LockFile, import_directory
    from zoo.registry import build_registry

    root = tmp_path_factory.mktemp("reader")
    home = {"ZOO_HOME": str(root / "zoo"), "HF_HOME": str(root / "hf"), "HF_HUB_CACHE": str(root / "hf" / "hub")}
    s = settings(home)
    entry = build_registry(settings=s).entries["all-minilm-l6-v2"]
    import_directory(minilm_dir, repo_id=entry.repo_id, revision=entry.revision, cache_dir=s.hf_cache,
                     lock=LockFile(s.lockfile), entry=entry)
    with HubServer() as hub:
        hub.add_repo_from_dir(MINILM_REPO_ID, minilm_dir, commit_sha=MINILM_COMMIT)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ZOO_", "HF_", "PIP_", "VIRTUAL_ENV", "PYTEST_"))}
        env.update(home, HF_ENDPOINT=hub.url, HF_HUB_DISABLE_TELEMETRY="1", OMP_NUM_THREADS="1", NO_COLOR="1",
                   PYTHONPATH=os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]]),
                   PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1",
                   PIP_NO_INPUT="1", PIP_CACHE_DIR=str(root / "pip-cache"))
        values = {"DRIVE": str(root / "usb"), "DIR": str(minilm_dir), "MASTER": "127.0.0.1"}
        yield Reader(root=root, env=env, values=values, shared_data=shared_data)


def _reader_python(venv: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    for tool, module in (("zoo", "zoo"), ("pip", "pip"), ("pytest", "pytest"), ("torchrun", "torch.distributed.run")):
        shim = venv / "bin" / tool
        shim.write_text(f'#!/bin/sh\nexec "{venv / "bin" / "python"}" -m {module} "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
    return venv / "bin"


EXIT_BARRIER = "Error waiting on exit barrier"


def _without_exit_barrier_log(stderr: str) -> str:
    """stderr without torchrun's exit-barrier log (docs/search.md says when it appears).

    In a two-node torchrun, the agent at the master address holds the rendezvous store; when it
    leaves first, the other node's agent logs "Error waiting on exit barrier" with a traceback
    after its processes have finished (the run is complete, the exit status 0). Only the lines of
    that one log record of torch's elastic agent are dropped; any other traceback still fails.
    """
    if EXIT_BARRIER not in stderr:
        return stderr
    record = re.compile(r"^[EWI]\d{4} [\d:.]+ \d+ \S*torch/distributed/elastic/agent/server/api\.py:\d+\]")
    return "\n".join(line for line in stderr.splitlines() if not record.match(line))


@dataclass
class PageShell:
    """One shell session over a page's blocks: the environment and folder each block leaves."""

    page: Path
    env: dict[str, str]
    cwd: Path
    state: Path
    values: dict[str, str]
    ran: set[int] = field(default_factory=set)

    @classmethod
    def create(cls, reader: Reader, page: Path) -> PageShell:
        base = reader.root / page.stem
        work = base / "work"
        work.mkdir(parents=True)
        bin_dir = _reader_python(base / "venv")
        env = {**reader.env, "PATH": f"{bin_dir}{os.pathsep}{reader.env.get('PATH', '')}",
               "VIRTUAL_ENV": str(base / "venv")}
        for name in CHECKOUT_LINKS:
            (work / name).symlink_to(REPO / name)
        for name in CHECKOUT_COPIES:
            shutil.copytree(REPO / name, work / name, ignore=_BUILD_LITTER)
        (base / "shared").symlink_to(reader.shared_data.parent, target_is_directory=True)  # ../shared/data
        for data in reader.shared_data.iterdir():
            if data.is_dir() and not (work / data.name).exists():
                (work / data.name).symlink_to(data, target_is_directory=True)
        for lang, body, _ in blocks(page):
            first = body.splitlines()[0] if body.strip() else ""
            if lang == "toml" and FILE.match(first):
                (work / FILE.match(first).group(1)).write_text(body, encoding="utf-8")
        shell = cls(page=page, env=env, cwd=work, state=base / "state", values=reader.values)
        shell.state.mkdir()
        return shell

    def run_through(self, line: int) -> None:
        """Run the page's blocks before ``line`` that have not run yet, then the block at ``line``."""
        for _, body, at in (b for b in shell_blocks() if b[0] == self.page):
            if at > line:
                break
            if at in self.ran:
                continue
            self.ran.add(at)
            self._run(with_reader_values(body, self.values), at)

    def _script(self, body: str) -> str:
        return (f"set -a\n{body}\nset +a\n"
                f'pwd > "{self.state}/pwd"\nenv -0 > "{self.state}/env"\n')

    def _run(self, body: str, line: int) -> None:
        where = f"docs/{self.page.name}:{line}"
        argv = ["bash", "-e", "-o", "pipefail", "-c", self._script(body)]
        if SERVE.search(body):
            stdout, stderr, code = _serve_then_interrupt(argv, self.cwd, self.env, where, self.state / "stderr")
        else:
            proc = subprocess.run(argv, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=600)
            stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
            assert code == 0, (f"{where} failed (exit {code}):\n{body}\n"
                               f"--- stdout\n{stdout[-3000:]}\n--- stderr\n{stderr[-3000:]}")
            self._carry_over()
        assert "Traceback (most recent call last)" not in _without_exit_barrier_log(stderr), \
            f"{where}:\n{stderr[-3000:]}"

    def _carry_over(self) -> None:
        self.cwd = Path((self.state / "pwd").read_text(encoding="utf-8").strip())
        pairs = (item.partition("=") for item in (self.state / "env").read_text(encoding="utf-8").split("\0") if item)
        self.env = {k: v for k, _, v in pairs if k not in ("PWD", "OLDPWD", "SHLVL", "_")}


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _serve_then_interrupt(argv: list[str], cwd: Path, env: dict[str, str], where: str,
                          stderr_file: Path) -> tuple[str, str, int]:
    """Run a block that ends in ``zoo catalog serve``: once it says where it serves, fetch that page,
    then press Ctrl-C. Returns ``(stdout, stderr, exit status)``; the status of a shell stopped by
    Ctrl-C is 130."""
    deadline = time.monotonic() + 60
    while not _port_free(8000) and time.monotonic() < deadline:  # another run of this test serving
        time.sleep(1)
    lines, url = [], None
    with open(stderr_file, "w", encoding="utf-8") as err_out:  # a file, not a pipe: nobody reads it while serving
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err_out, text=True,
                                start_new_session=True)

    def stderr() -> str:
        return stderr_file.read_text(encoding="utf-8", errors="replace")[-3000:]

    try:
        for text in proc.stdout:  # the build's summary, then the address it serves
            lines.append(text)
            if m := SERVING.search(text):
                url = m.group(1)
                break
        assert url is not None, (f"{where}: the server never said where it serves (exit {proc.wait()}):\n"
                                 f"--- stdout\n{''.join(lines)[-3000:]}\n--- stderr\n{stderr()}")
        with urllib.request.urlopen(url, timeout=30) as resp:
            page = resp.read().decode("utf-8", "replace")
        assert resp.status == 200 and "<html" in page.lower() and "transferzoo" in page.lower(), page[:500]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    assert proc.returncode in (0, 130, -signal.SIGINT), f"{where}: exit {proc.returncode} after Ctrl-C:\n{stderr()}"
    return "".join(lines) + out, stderr(), proc.returncode


@pytest.mark.slow
@pytest.mark.parametrize("page,body,line", [pytest.param(p, b, n, id=f"{p.name}:{n}") for p, b, n in shell_blocks()])
def test_shell_block_runs(page, body, line, reader):
    reason = _skip_reason(body)
    assert reason is None, f"docs/{page.name}:{line} is marked to skip ({reason}); every shell block must run"
    reader.page(page).run_through(line)


def test_only_torchruns_exit_barrier_record_is_dropped_from_stderr():
    record = ("E1202 09:12:25.796000 4136 .venv/lib/python3.11/site-packages/torch/distributed/elastic/agent/"
              "server/api.py:1008] {}")
    barrier = "\n".join(record.format(text) for text in (
        "Error waiting on exit barrier. Elapsed: 0.2 seconds", "Traceback (most recent call last):",
        "  File \"api.py\", line 994, in _exit_barrier", "torch.distributed.DistNetworkError: Connection reset"))
    assert "Traceback" not in _without_exit_barrier_log("zoo run: done\n" + barrier)
    other = "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: boom"
    assert "Traceback" in _without_exit_barrier_log(barrier + "\n" + other)
    assert _without_exit_barrier_log(other) == other
