"""The Hub cache and the lock file: nothing outside the cache is touched, concurrent writers lose
nothing, an import is all-or-nothing, and every broken input is a typed, one-line error."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_hub import sha
from test_hub import tiny_files as hub_tiny_files

import zoo
from zoo.cli.main import main
from zoo.config import settings
from zoo.errors import ConfigError, IntegrityError, ZooError
from zoo.hub import LockFile, import_directory, resolve
from zoo.registry import parse_entry

REPO_ROOT = Path(__file__).resolve().parents[1]
REVISION = "f" * 40


def tiny_files(seed: int) -> dict[str, bytes]:
    return {**hub_tiny_files(seed), "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}'}


def tiny_entry(files: dict[str, bytes], *, tofu: bool = False):
    hashes = {n: ("tofu" if tofu else sha(b)) for n, b in files.items()}
    raw = dict(architecture="bert", repo_id="org/tiny", revision=REVISION, files=hashes, modality="text",
               license="mit", num_params=16, embedding_dim=4, integrity="tofu" if tofu else "verified")
    return parse_entry("tiny", raw, source="test")


def write_dir(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def snapshot(repo: str = "org/tiny", revision: str = REVISION) -> Path:
    return settings().hf_cache / f"models--{repo.replace('/', '--')}" / "snapshots" / revision


def do_import(src: Path, *, entry=None, files=None, repo: str = "org/tiny"):
    s = settings()
    return import_directory(src, repo_id=repo, revision=REVISION, cache_dir=s.hf_cache,
                            lock=LockFile(s.lockfile), entry=entry, files=files)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- 1. eviction never leaves the cache ---------------------------------------------------------


def test_eviction_of_a_symlink_to_outside_removes_only_the_link(tmp_path):
    files = tiny_files(0)
    entry = tiny_entry(files)
    do_import(write_dir(tmp_path / "src", files), entry=entry)
    user_file = tmp_path / "precious.txt"
    user_file.write_bytes(b"the user's own file, not a model\n")
    link = snapshot() / "config.json"
    link.unlink()
    link.symlink_to(user_file)
    with pytest.raises(IntegrityError) as exc:
        resolve(entry, offline=True)
    assert user_file.read_bytes() == b"the user's own file, not a model\n"
    assert not os.path.lexists(link)
    assert "not removed" not in str(exc.value)


def test_eviction_removes_the_blob_inside_the_cache(tmp_path):
    files = tiny_files(1)
    entry = tiny_entry(files)
    do_import(write_dir(tmp_path / "src", files), entry=entry)
    link = snapshot() / "config.json"
    blob = link.resolve()
    blob.write_bytes(b'{"seed": 9}')
    with pytest.raises(IntegrityError):
        resolve(entry, offline=True)
    assert not os.path.lexists(link) and not blob.exists()


# --- 2. no file name escapes its snapshot -------------------------------------------------------

UNSAFE_NAMES = ["/etc/hostname", "../../../../../../.bashrc", "a/../../b", "a\\b.json", "a\x00b", "a\nb.json",
                "C:/x.json", "a//b.json", "./a.json", "dir/", "bad\udcff.json"]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_lock_record_refuses_unsafe_names_and_writes_nothing(tmp_path, name):
    lock = LockFile(tmp_path / "zoo.lock.toml")
    with pytest.raises(ConfigError) as exc:
        lock.record("org/tiny", REVISION, {name: "d" * 64})
    assert repr(name) in str(exc.value) or name in str(exc.value)
    assert not (tmp_path / "zoo.lock.toml").exists()


@pytest.mark.parametrize("name", ["../../../.bashrc", "/tmp/x.json", "a\\b.json", "a\tb.json"])
def test_lock_file_with_unsafe_names_is_refused(tmp_path, name):
    import json

    path = tmp_path / "zoo.lock.toml"
    path.write_text(f'version = 1\n[files."org/tiny@{REVISION}"]\n{json.dumps(name)} = "{"d" * 64}"\n')
    with pytest.raises(ConfigError, match="zoo.lock.toml"):
        LockFile(path)


def test_import_files_refuses_absolute_and_parent_names(tmp_path, capsys):
    outside = tmp_path / "hostname"
    outside.write_text("myhost\n")
    src = write_dir(tmp_path / "src", tiny_files(2))
    for bad in (str(outside), "../hostname", "a\\..\\hostname"):
        code, out, err = cli(capsys, "hub", "import", str(src), "--repo", "org/tiny", "--revision", REVISION,
                             "--files", "model.safetensors", bad)
        assert code == 1 and "Traceback" not in err and (bad in err or repr(bad) in err), err
    assert outside.read_text() == "myhost\n" and not outside.is_symlink()
    assert not (settings().hf_cache / "models--org--tiny").exists()


def test_import_refuses_non_utf8_names_found_in_the_directory(tmp_path):
    src = write_dir(tmp_path / "src", tiny_files(3))
    (src / os.fsdecode(b"bad\xff.json")).write_bytes(b"{}")
    with pytest.raises(ZooError, match="UTF-8"):
        do_import(src)
    assert not (settings().hf_cache / "models--org--tiny").exists()


def test_import_does_not_follow_a_symlinked_snapshot_folder(tmp_path):
    files = tiny_files(4)
    outside = tmp_path / "outside"
    outside.mkdir()
    snap = snapshot()
    snap.mkdir(parents=True)
    (snap / "1_Pooling").symlink_to(outside)
    with pytest.raises(ZooError, match="1_Pooling"):
        do_import(write_dir(tmp_path / "src", files), entry=tiny_entry(files))
    assert list(outside.iterdir()) == []


def test_import_of_a_bad_repo_id_is_refused(tmp_path):
    with pytest.raises(ZooError, match="org/name"):
        do_import(write_dir(tmp_path / "src", tiny_files(5)), repo="../../etc")


# --- 5. concurrent writers of the lock file lose nothing ---------------------------------------

WRITER = """
import sys, time
from zoo.hub import LockFile
path, me, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
for i in range(15):
    LockFile(path).record(f"org/w{me}", "%s", {f"file{i}.json": f"{me:032x}{i:032x}"})
"""


def test_concurrent_writers_keep_every_entry(tmp_path):
    import time

    path = tmp_path / "zoo.lock.toml"
    n = 6
    start = time.time() + 3.0  # every writer has imported zoo by then, so they overlap
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER % REVISION, str(path), str(i), str(start)], env=env,
                              stderr=subprocess.PIPE, text=True) for i in range(n)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    lock = LockFile(path)
    for me in range(n):
        for i in range(15):
            assert lock.get(f"org/w{me}", REVISION, f"file{i}.json") == f"{me:032x}{i:032x}", (me, i)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".zoo.lock.toml.lock") == ["zoo.lock.toml"]


# --- 6. a lock file is never written broken ------------------------------------------------------


def test_a_lock_that_would_not_parse_back_is_never_written(tmp_path, monkeypatch):
    path = tmp_path / "zoo.lock.toml"
    LockFile(path).record("org/tiny", REVISION, {"a.json": "a" * 64})
    before = path.read_bytes()
    import zoo.hub.lockfile as lockfile

    monkeypatch.setattr(lockfile, "dumps", lambda data: 'version = 1\nfiles = { "x" = \n')
    with pytest.raises(ConfigError, match="not written"):
        LockFile(path).record("org/tiny", REVISION, {"b.json": "b" * 64})
    assert path.read_bytes() == before


def test_record_refuses_a_hash_that_is_not_hex(tmp_path):
    with pytest.raises(ConfigError, match="sha256"):
        LockFile(tmp_path / "zoo.lock.toml").record("org/tiny", REVISION, {"a.json": "xyz"})


# --- 8. an import is all-or-nothing --------------------------------------------------------------


def test_import_places_nothing_when_the_lock_cannot_be_written(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    monkeypatch.setenv("ZOO_LOCKFILE", str(blocker / "zoo.lock.toml"))
    src = write_dir(tmp_path / "src", tiny_files(6))
    with pytest.raises(ZooError) as exc:
        do_import(src)
    assert isinstance(exc.value, OSError) and "a-file" in str(exc.value)
    repo = settings().hf_cache / "models--org--tiny"
    assert not repo.exists() or [p for p in repo.rglob("*") if not p.is_dir()] == []


def test_import_keeps_what_was_cached_before_when_it_fails(tmp_path, monkeypatch):
    first = tiny_files(7)
    do_import(write_dir(tmp_path / "one", first), files=["model.safetensors", "config.json"])
    before = {p: p.resolve() for p in snapshot().rglob("*") if p.is_symlink()}
    monkeypatch.setenv("ZOO_LOCKFILE", str(tmp_path))  # a directory: the lock cannot be written
    with pytest.raises(ConfigError, match="directory"):
        LockFile(settings().lockfile)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("ZOO_LOCKFILE", str(blocker / "zoo.lock.toml"))
    second = {**first, "1_Pooling/config.json": b'{"other": 1}', "extra.json": b"{}"}
    with pytest.raises(ZooError):
        do_import(write_dir(tmp_path / "two", second))
    after = {p: p.resolve() for p in snapshot().rglob("*") if p.is_symlink()}
    assert after == before


# --- lock file and cache mistakes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body, words",
    [
        (b"version = 1\n\xff\xfe binary", "UTF-8"),
        (b"\x00\x01\x02\x03", "not valid TOML"),
        (b'version = 1\n[files."org/tiny@' + REVISION.encode() + b'"]\n"a.json" = 5\n', "a.json"),
        (b'version = 1\n[files."org/tiny@' + REVISION.encode() + b'"]\n"a.json" = "zz"\n', "a.json"),
        (b'version = 1\n[files."org/tiny@main"]\n"a.json" = "' + b"a" * 64 + b'"\n', "org/tiny@main"),
        (b'version = 1\nfiles = 3\n', "files"),
        (b"version = 1\n[files\n", "not valid TOML"),
    ],
)
def test_broken_lock_files_are_one_line_typed_errors(tmp_path, body, words, monkeypatch, capsys):
    path = tmp_path / "zoo.lock.toml"
    path.write_bytes(body)
    with pytest.raises(ConfigError) as exc:
        LockFile(path)
    assert str(path) in str(exc.value) and words in str(exc.value) and "\n" not in str(exc.value)
    monkeypatch.setenv("ZOO_LOCKFILE", str(path))
    code, _, err = cli(capsys, "verify", "all-minilm-l6-v2")
    assert code == 1 and "Traceback" not in err and str(path) in err


def test_lock_path_that_is_a_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ZOO_LOCKFILE", str(tmp_path))
    code, _, err = cli(capsys, "verify", "all-minilm-l6-v2")
    assert code == 1 and "directory" in err and "ZOO_LOCKFILE" in err and "Traceback" not in err


def test_unwritable_cache_is_a_typed_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("HF_HUB_CACHE", str(blocker / "hub"))
    with pytest.raises(ZooError) as exc:
        do_import(write_dir(tmp_path / "src", tiny_files(8)))
    assert isinstance(exc.value, OSError) and "HF_HUB_CACHE" in str(exc.value) and str(blocker) in str(exc.value)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_imported_blobs_and_lock_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        do_import(write_dir(tmp_path / "src", tiny_files(9)))
    finally:
        os.umask(old)
    blobs = list((settings().hf_cache / "models--org--tiny" / "blobs").iterdir())
    assert blobs and {stat.S_IMODE(b.stat().st_mode) for b in blobs} == {0o666 & ~umask}
    assert stat.S_IMODE(settings().lockfile.stat().st_mode) == 0o666 & ~umask


def test_download_into_an_unwritable_cache_is_a_typed_error(hub_server, tmp_path, monkeypatch):
    files = tiny_files(10)
    commit = hub_server.add_commit("org/tiny", files)
    registry = tmp_path / "mine.toml"
    hashes = ", ".join(f'"{n}" = "{sha(b)}"' for n, b in files.items())
    registry.write_text(f'[backbone."tiny"]\narchitecture = "bert"\nrepo_id = "org/tiny"\nrevision = "{commit}"\n'
                        f'modality = "text"\nlicense = "mit"\nnum_params = 16\nembedding_dim = 4\n'
                        f'files = {{ {hashes} }}\n')
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("ZOO_REGISTRY", str(registry))
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(blocker / "hub"))
    with pytest.raises(ZooError) as exc:
        resolve(zoo.backbone_info("tiny"))
    msg = str(exc.value)
    assert isinstance(exc.value, OSError) and "HF_HUB_CACHE" in msg and str(blocker) in msg and "\n" not in msg
