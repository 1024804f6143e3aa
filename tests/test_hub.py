"""Resolution through the real huggingface_hub client against a local Hub on 127.0.0.1."""

from __future__ import annotations

import hashlib
import socket
import textwrap

import numpy as np
import pytest
from hubserver import MINILM_COMMIT, MINILM_REPO_ID
from safetensors.numpy import save

from zoo.config import settings
from zoo.errors import IntegrityError, OfflineCacheMissError, RevisionNotPinnedError
from zoo.hub import LockFile, import_directory, resolve, verify_cached
from zoo.registry import build_registry, parse_entry


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tiny_files(seed: int) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {
        "model.safetensors": save({"w": rng.standard_normal((4, 4)).astype(np.float32)}),
        "config.json": b'{"seed": %d}' % seed,
    }


def tiny_entry(revision: str, files: dict[str, bytes], *, tofu: bool = False):
    hashes = {n: ("tofu" if tofu else sha(b)) for n, b in files.items()}
    raw = dict(architecture="bert", repo_id="org/tiny", revision=revision, files=hashes, modality="text",
               license="mit", num_params=16, embedding_dim=4, integrity="tofu" if tofu else "verified")
    return parse_entry("tiny", raw, source="test")


@pytest.fixture
def online(hub_server, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    return hub_server


@pytest.fixture
def no_sockets(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    attempts = []

    def refuse(self, address, *a, **k):
        attempts.append(address)
        raise AssertionError(f"a network connection to {address} was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def test_download_real_minilm_at_pinned_commit(online, minilm_dir):
    online.add_repo_from_dir(MINILM_REPO_ID, minilm_dir, commit_sha=MINILM_COMMIT)
    entry = build_registry().entries["all-minilm-l6-v2"]
    r = resolve(entry)
    assert set(r.downloaded) == {f.filename for f in entry.files}
    assert r.sha256["model.safetensors"] == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    assert r.files["model.safetensors"].parent == r.snapshot_dir
    before = len(online.requests)
    again = resolve(entry)  # pinned commit, warm cache: no request at all
    assert again.downloaded == () and len(online.requests) == before


def test_tampered_download_is_refused_and_evicted(online):
    files = tiny_files(0)
    commit = online.add_commit("org/tiny", files)
    entry = tiny_entry(commit, files)
    bad = bytearray(files["model.safetensors"])
    bad[-1] ^= 0xFF
    online.tamper("org/tiny", commit, "model.safetensors", bytes(bad))
    with pytest.raises(IntegrityError) as exc:
        resolve(entry)
    err = exc.value
    assert err.filename == "model.safetensors" and err.expected == sha(files["model.safetensors"])
    assert err.actual == sha(bytes(bad)) and err.expected in str(err) and err.actual in str(err)
    assert not (settings().hf_cache / "models--org--tiny" / "snapshots" / commit / "model.safetensors").exists()


def test_tampered_cached_file_is_refused(warm_cache):
    path = settings().hf_cache / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots" / MINILM_COMMIT
    blob = (path / "model.safetensors").resolve()
    data = bytearray(blob.read_bytes())
    data[1000] ^= 0x01
    blob.write_bytes(bytes(data))
    checks = verify_cached([warm_cache], cache_dir=settings().hf_cache, lock=LockFile(settings().lockfile))
    assert [c.status for c in checks if c.filename == "model.safetensors"] == ["mismatch"]
    with pytest.raises(IntegrityError, match="model.safetensors.*expected 53aa5117"):
        resolve(warm_cache, offline=True)
    with pytest.raises(OfflineCacheMissError):  # the bad copy is not used again
        resolve(warm_cache, offline=True)


def test_branch_moved_pinned_commit_still_resolves(online):
    old = tiny_files(1)
    pinned = online.add_commit("org/tiny", old)
    online.add_commit("org/tiny", tiny_files(2))  # main moves on
    assert online.resolve("org/tiny", "main").sha != pinned
    r = resolve(tiny_entry(pinned, old))
    assert r.sha256["model.safetensors"] == sha(old["model.safetensors"])


def test_offline_warm_cache_opens_no_socket(warm_cache, monkeypatch, no_sockets):
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens; nothing must try
    r = resolve(warm_cache)
    assert r.sha256["model.safetensors"].startswith("53aa5117") and no_sockets == []


def test_offline_cold_cache_says_what_to_do(monkeypatch, no_sockets):
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    entry = build_registry().entries["all-minilm-l6-v2"]
    with pytest.raises(OfflineCacheMissError) as exc:
        resolve(entry)
    msg = str(exc.value)
    assert "zoo pull all-minilm-l6-v2" in msg and "zoo hub import" in msg and MINILM_COMMIT in msg
    assert isinstance(exc.value, FileNotFoundError) and no_sockets == []


def test_hf_hub_offline_is_honoured(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineCacheMissError):
        resolve(build_registry().entries["all-minilm-l6-v2"])


def test_tofu_records_then_enforces_lock(online):
    files = tiny_files(3)
    commit = online.add_commit("org/tiny", files)
    entry = tiny_entry(commit, files, tofu=True)
    r = resolve(entry)
    assert set(r.recorded) == set(files)
    lock = LockFile(settings().lockfile)
    assert lock.get("org/tiny", commit, "model.safetensors") == sha(files["model.safetensors"])
    # the mirror now serves other bytes for the same commit: the lock catches it
    cache = settings().hf_cache / "models--org--tiny"
    for p in sorted(cache.rglob("*"), reverse=True):
        p.unlink() if p.is_file() or p.is_symlink() else p.rmdir()
    bad = bytearray(files["model.safetensors"])
    bad[-2] ^= 0xFF
    online.tamper("org/tiny", commit, "model.safetensors", bytes(bad))
    with pytest.raises(IntegrityError, match="expected " + sha(files["model.safetensors"])):
        resolve(entry)


def test_import_checks_hashes_before_writing(tmp_path, minilm_dir):
    entry = build_registry().entries["all-minilm-l6-v2"]
    src = tmp_path / "copy"
    src.mkdir()
    for f in entry.files:
        (src / f.filename).parent.mkdir(parents=True, exist_ok=True)
        (src / f.filename).write_bytes((minilm_dir / f.filename).read_bytes())
    (src / "vocab.txt").write_text("tampered\n")
    s = settings()
    with pytest.raises(IntegrityError, match="vocab.txt.*Nothing was imported"):
        import_directory(src, repo_id=entry.repo_id, revision=entry.revision, cache_dir=s.hf_cache,
                         lock=LockFile(s.lockfile), entry=entry)
    assert not (s.hf_cache / "models--sentence-transformers--all-MiniLM-L6-v2").exists()
    with pytest.raises(RevisionNotPinnedError, match="40-hex"):
        import_directory(src, repo_id=entry.repo_id, revision="main", cache_dir=s.hf_cache,
                         lock=LockFile(s.lockfile), entry=entry)


def test_import_unknown_repo_records_hashes(tmp_path):
    src = tmp_path / "repo"
    src.mkdir()
    for name, data in tiny_files(4).items():
        (src / name).write_bytes(data)
    s = settings()
    rep = import_directory(src, repo_id="org/tiny", revision="f" * 40, cache_dir=s.hf_cache,
                           lock=LockFile(s.lockfile))
    assert "recorded" in rep.checked_against
    assert LockFile(s.lockfile).get("org/tiny", "f" * 40, "config.json") == sha(b'{"seed": 4}')
    r = resolve(tiny_entry("f" * 40, tiny_files(4), tofu=True), offline=True)
    assert r.recorded == ()


def test_lockfile_written_atomically(tmp_path):
    lock = LockFile(tmp_path / "zoo.lock.toml")
    lock.record("a/b", "c" * 40, {"x": "d" * 64})
    assert [p.name for p in tmp_path.iterdir() if p.name != ".zoo.lock.toml.lock"] == ["zoo.lock.toml"]
    assert "a/b@" + "c" * 40 in textwrap.dedent((tmp_path / "zoo.lock.toml").read_text())
