"""Shared fixtures: an isolated environment per test, real data paths, the real MiniLM files."""

from __future__ import annotations

import os
import pathlib

import pytest

from hubserver import hub_server, loopback_only, minilm_snapshot_dir  # noqa: F401  (fixture re-export)
from image_support import converted, image_backbone  # noqa: F401  (fixture re-export)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

_ZOO_VARS = ("ZOO_OFFLINE", "ZOO_HOME", "ZOO_REGISTRY", "ZOO_LOCKFILE", "ZOO_CONFIG", "ZOO_PLUGINS_STRICT",
             "ZOO_LOAD_PLUGINS", "ZOO_DISABLE_PLUGINS", "HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE")


def pytest_configure(config):
    """Under pytest-xdist (``make test`` runs ``-n 2``) the workers share the cores: each worker, and
    every process a test starts, gets its share of threads instead of one per core (torch's default),
    which would oversubscribe the machine. An explicit ``OMP_NUM_THREADS`` is kept."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers > 1:
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))


# The test files that take longest, longest first (pytest --durations of whole runs on the 2-core
# machine). They are collected first, so that under xdist (`make test`: --dist loadfile
# --no-loadscope-reorder) the workers start on them and end together, rather than one worker
# picking up a long file last while the other idles. A file left out only runs later.
LONGEST_FIRST = ("test_runner.py", "test_timm_parity.py", "test_catalog_browser.py", "test_compress.py", "test_export.py",
                 "test_docs_commands.py", "test_search_runs.py", "test_search_ray.py", "test_distributed.py",
                 "test_plugins_venv.py", "test_evaluate.py", "test_catalog.py", "test_bert.py", "test_plugins_cli.py",
                 "test_offline_network.py", "test_conformance.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file's tests keep their order


# Test files that share one xdist worker, so that the session's one Sphinx build (``catalog_site``)
# is made once, not on both workers.
SAME_WORKER = {"tests/test_catalog.py": "tests/test_catalog_browser.py"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile``, with the files of :data:`SAME_WORKER` as one unit of work."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid):
            scope = super()._split_scope(nodeid)
            return SAME_WORKER.get(scope, scope)

    return Scheduling(config, log)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Every test gets its own Hub cache and zoo home, and no user registry layers."""
    base = tmp_path_factory.mktemp("env")
    for var in _ZOO_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(base / "hf" / "hub"))
    monkeypatch.setenv("HF_HOME", str(base / "hf"))
    monkeypatch.setenv("ZOO_HOME", str(base / "zoo"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    from zoo import registry

    registry._CACHE.clear()
    yield base
    registry._CACHE.clear()


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    if not SHARED_DATA.is_dir():
        raise FileNotFoundError(f"{SHARED_DATA} is missing: the tests read real data from ../shared/data")
    return SHARED_DATA


@pytest.fixture(scope="session")
def minilm_dir() -> pathlib.Path:
    return minilm_snapshot_dir()


@pytest.fixture
def warm_cache(minilm_dir):
    """Seed this test's Hub cache with the real all-MiniLM-L6-v2 files via `zoo hub import`'s code path."""
    from zoo.config import settings
    from zoo.hub import LockFile, import_directory
    from zoo.registry import build_registry

    s = settings()
    entry = build_registry().entries["all-minilm-l6-v2"]
    import_directory(minilm_dir, repo_id=entry.repo_id, revision=entry.revision, cache_dir=s.hf_cache,
                     lock=LockFile(s.lockfile), entry=entry)
    return entry


@pytest.fixture(scope="session")
def catalog_site(tmp_path_factory):
    """The documentation site built once per session (Sphinx is slow): ``(site folder, build report)``.

    Skipped, with the reason, when the documentation stack (``transferzoo[catalog]``) is missing.
    """
    pytest.importorskip("sphinx", reason='the docs stack is not installed: pip install -e ".[catalog]"')
    from catalog_support import build_test_site

    return build_test_site(tmp_path_factory.mktemp("catalog"), docs=REPO_ROOT / "docs")
