"""The test Hub server works with the real huggingface_hub client, on loopback only."""

from __future__ import annotations

import hashlib
import os

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import json  # noqa: E402
import pathlib  # noqa: E402
import socket  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import httpx2  # noqa: E402
import huggingface_hub  # noqa: E402
import pytest  # noqa: E402
from huggingface_hub import HfApi, hf_hub_download, snapshot_download  # noqa: E402
from huggingface_hub.errors import (  # noqa: E402
    EntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from hubserver import (  # noqa: E402
    MINILM_COMMIT,
    MINILM_REPO_ID,
    MINILM_SAFETENSORS_SHA256,
    HubServer,
    loopback_only,
    minilm_snapshot_dir,
)

REPO = "acme/tiny"
CONFIG = b'{"hidden": 4}'
WEIGHTS = b"\x00\x01fake-safetensors"  # small, but LFS by suffix


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with HubServer() as server, loopback_only():
        yield server


def sha256(path: str | pathlib.Path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def download(hub: HubServer, cache: pathlib.Path, filename: str, **kwargs: object) -> pathlib.Path:
    return pathlib.Path(hf_hub_download(REPO, filename, cache_dir=cache, endpoint=hub.url, **kwargs))


def test_hf_hub_download_by_commit_and_by_branch(hub: HubServer, tmp_path: pathlib.Path) -> None:
    sha = hub.add_commit(REPO, {"config.json": CONFIG, "model.safetensors": WEIGHTS})
    assert len(sha) == 40 and sha == hub.resolve(REPO, "main").sha

    by_branch = download(hub, tmp_path, "config.json", revision="main")
    by_commit = download(hub, tmp_path, "model.safetensors", revision=sha)
    assert by_branch.read_bytes() == CONFIG and by_commit.read_bytes() == WEIGHTS
    assert by_branch.parent.name == by_commit.parent.name == sha  # snapshots/<sha>/...

    # The blob names are the ETags: git blob sha1 for regular files, sha256 for LFS files.
    blobs = tmp_path / "models--acme--tiny" / "blobs"
    git_oid = hashlib.sha1(b"blob %d\0" % len(CONFIG) + CONFIG).hexdigest()
    assert sorted(p.name for p in blobs.iterdir()) == sorted([git_oid, hashlib.sha256(WEIGHTS).hexdigest()])
    assert hub.downloads() == [f"/{REPO}/resolve/main/config.json", f"/{REPO}/resolve/{sha}/model.safetensors"]

    # A cached file at a pinned commit is served from disk without any request.
    hub.requests.clear()
    assert download(hub, tmp_path, "model.safetensors", revision=sha) == by_commit
    assert hub.requests == []


def test_moved_branch_old_commit_keeps_old_bytes(hub: HubServer, tmp_path: pathlib.Path) -> None:
    old = hub.add_commit(REPO, {"config.json": CONFIG})
    new = hub.add_commit(REPO, {"config.json": b'{"hidden": 8}'}, message="bump")
    assert old != new and hub.resolve(REPO, new).parent == old

    assert download(hub, tmp_path, "config.json", revision="main").read_bytes() == b'{"hidden": 8}'
    assert download(hub, tmp_path, "config.json", revision=old).read_bytes() == CONFIG
    assert (tmp_path / "models--acme--tiny" / "refs" / "main").read_text() == new


def test_slashed_branch_name_is_quoted(hub: HubServer, tmp_path: pathlib.Path) -> None:
    sha = hub.add_commit(REPO, {"config.json": CONFIG}, branch="refs/pr/1")
    assert download(hub, tmp_path, "config.json", revision="refs/pr/1").parent.name == sha


def test_snapshot_download_allow_patterns_at_pinned_commit(hub: HubServer, tmp_path: pathlib.Path) -> None:
    hub.tree_page_size = 2  # force the client to follow the Link header
    files = {"config.json": CONFIG, "model.safetensors": WEIGHTS, "pool/config.json": b"{}", "README.md": b"hi"}
    sha = hub.add_commit(REPO, files)
    hub.add_commit(REPO, {"config.json": b"{}"})  # main moves on; the pin must not follow it

    folder = snapshot_download(
        REPO, revision=sha, allow_patterns=["*.json"], cache_dir=tmp_path, endpoint=hub.url
    )
    got = sorted(p.relative_to(folder).as_posix() for p in pathlib.Path(folder).rglob("*") if p.is_file())
    assert got == ["config.json", "pool/config.json"]
    assert (pathlib.Path(folder) / "config.json").read_bytes() == CONFIG
    assert not any("/api/models" in path and "/revision/" in path for _, path in hub.requests)  # pinned: no lookup
    assert sum("/tree/" in path for _, path in hub.requests) == 3  # 5 entries (with the folder) in pages of 2
    assert sorted(hub.downloads()) == [f"/{REPO}/resolve/{sha}/config.json", f"/{REPO}/resolve/{sha}/pool/config.json"]


def test_snapshot_download_by_branch_and_model_info(hub: HubServer, tmp_path: pathlib.Path) -> None:
    sha = hub.add_commit(REPO, {"config.json": CONFIG, "model.safetensors": WEIGHTS})
    folder = snapshot_download(REPO, cache_dir=tmp_path, endpoint=hub.url)
    assert pathlib.Path(folder).name == sha
    assert ("GET", f"/api/models/{REPO}/revision/main") in hub.requests

    info = HfApi(endpoint=hub.url).model_info(REPO, files_metadata=True)
    assert info.sha == sha
    lfs = {s.rfilename: s.lfs for s in info.siblings}
    assert lfs["config.json"] is None
    assert lfs["model.safetensors"].sha256 == hashlib.sha256(WEIGHTS).hexdigest()


def test_real_minilm_at_pinned_commit(hub: HubServer, tmp_path: pathlib.Path) -> None:
    assert hub.add_repo_from_dir(MINILM_REPO_ID, minilm_snapshot_dir(), commit_sha=MINILM_COMMIT) == MINILM_COMMIT
    folder = pathlib.Path(
        snapshot_download(
            MINILM_REPO_ID,
            revision=MINILM_COMMIT,
            allow_patterns=["*.json", "*.safetensors", "vocab.txt"],
            cache_dir=tmp_path,
            endpoint=hub.url,
        )
    )
    assert folder.name == MINILM_COMMIT
    assert sha256(folder / "model.safetensors") == MINILM_SAFETENSORS_SHA256
    assert json.loads((folder / "1_Pooling" / "config.json").read_text())["word_embedding_dimension"] == 384
    assert not (folder / "README.md").exists()

    info = HfApi(endpoint=hub.url).model_info(MINILM_REPO_ID, revision=MINILM_COMMIT, files_metadata=True)
    weights = next(s for s in info.siblings if s.rfilename == "model.safetensors")
    assert (info.sha, weights.lfs.sha256) == (MINILM_COMMIT, MINILM_SAFETENSORS_SHA256)


def test_404s_map_to_typed_errors(hub: HubServer, tmp_path: pathlib.Path) -> None:
    sha = hub.add_commit(REPO, {"config.json": CONFIG})
    with pytest.raises(EntryNotFoundError):
        download(hub, tmp_path, "missing.json", revision=sha)
    with pytest.raises(RevisionNotFoundError):
        download(hub, tmp_path, "config.json", revision="nope")
    with pytest.raises(RevisionNotFoundError):
        download(hub, tmp_path, "config.json", revision="0" * 40)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("acme/ghost", "config.json", cache_dir=tmp_path, endpoint=hub.url)
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub.url).model_info("acme/ghost")
    with pytest.raises(RevisionNotFoundError):
        snapshot_download(REPO, revision="nope", cache_dir=tmp_path, endpoint=hub.url)


def test_range_request_gets_206(hub: HubServer) -> None:
    hub.add_commit(REPO, {"model.safetensors": WEIGHTS})
    request = urllib.request.Request(f"{hub.url}/{REPO}/resolve/main/model.safetensors", headers={"Range": "bytes=4-"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 206 and response.read() == WEIGHTS[4:]
        assert response.headers["Content-Range"] == f"bytes 4-{len(WEIGHTS) - 1}/{len(WEIGHTS)}"
        assert response.headers["X-Linked-Size"] == str(len(WEIGHTS))
        assert not any(name.lower().startswith("x-xet") for name in response.headers)


def test_tampered_file_mismatches_advertised_sha256(hub: HubServer, tmp_path: pathlib.Path) -> None:
    sha = hub.add_commit(REPO, {"model.safetensors": WEIGHTS})
    hub.tamper(REPO, "main", "model.safetensors", bytes(reversed(WEIGHTS)))
    path = download(hub, tmp_path, "model.safetensors", revision=sha)
    assert path.resolve().name == hashlib.sha256(WEIGHTS).hexdigest()  # the client trusts the ETag...
    assert sha256(path) != hashlib.sha256(WEIGHTS).hexdigest()  # ...but the bytes do not match it


def test_refused_and_stopped_server(hub: HubServer, tmp_path: pathlib.Path) -> None:
    hub.add_commit(REPO, {"config.json": CONFIG})
    cached = download(hub, tmp_path, "config.json")
    with hub.refusing():
        assert download(hub, tmp_path, "config.json", local_files_only=True) == cached
        assert hub.refused == 0  # offline lookups never touched the server
        with pytest.raises(httpx2.RemoteProtocolError):  # a refused lookup fails loudly, not via the cache
            download(hub, tmp_path / "fresh", "config.json")
        assert hub.refused >= 1
    hub.stop()  # connection refused => the client falls back to the cached ref
    assert download(hub, tmp_path, "config.json") == cached


def test_loopback_only_blocks_other_addresses() -> None:
    with loopback_only(), pytest.raises(ConnectionRefusedError, match="non-loopback"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)


# --- uploads: create_repo, preupload and the NDJSON commit -----------------------------------


def test_create_commit_uploads_regular_files_and_skips_unchanged_ones(hub: HubServer, tmp_path: pathlib.Path) -> None:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    api = HfApi(endpoint=hub.url, token=False)
    url = api.create_repo("acme/pushed")
    assert str(url).endswith("/acme/pushed") and "acme/pushed" in hub.repos
    api.create_repo("acme/pushed", exist_ok=True)  # 409 is accepted
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.txt").write_bytes(b"second file")
    ops = [CommitOperationAdd("config.json", CONFIG), CommitOperationAdd("model.safetensors", WEIGHTS),
           CommitOperationAdd("sub/notes.txt", str(tmp_path / "sub" / "notes.txt"))]
    info = api.create_commit("acme/pushed", ops, commit_message="first upload")
    commit = hub.resolve("acme/pushed", "main")
    assert commit is not None and info.oid == commit.sha and hub.pushes == [("acme/pushed", commit.sha)]
    assert {p: b.data for p, b in commit.files.items()} == {
        "config.json": CONFIG, "model.safetensors": WEIGHTS, "sub/notes.txt": b"second file"}
    assert commit.message == "first upload"

    # the pushed files download like any others, at the commit the push returned
    got = hf_hub_download("acme/pushed", "model.safetensors", revision=info.oid, cache_dir=tmp_path / "c",
                          endpoint=hub.url)
    assert pathlib.Path(got).read_bytes() == WEIGHTS

    # an unchanged file is skipped (preupload reports its oid); a delete and a change make a new commit
    second = api.create_commit("acme/pushed", [CommitOperationAdd("config.json", CONFIG),
                                               CommitOperationAdd("model.safetensors", b"new weights"),
                                               CommitOperationDelete("sub/")], commit_message="second")
    after = hub.resolve("acme/pushed", "main")
    assert after.sha == second.oid != commit.sha and after.parent == commit.sha
    assert sorted(after.files) == ["config.json", "model.safetensors"]
    assert after.files["model.safetensors"].data == b"new weights"


def test_commit_refuses_a_moved_parent_and_bad_readme_metadata(hub: HubServer) -> None:
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(endpoint=hub.url, token=False)
    first = hub.add_commit(REPO, {"config.json": CONFIG})
    hub.add_commit(REPO, {"config.json": b"{}"})
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_commit(REPO, [CommitOperationAdd("a.txt", b"a")], commit_message="m", parent_commit=first)
    assert exc.value.response.status_code == 412
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.create_commit(REPO, [CommitOperationAdd("README.md", b"---\nkey: [unclosed\n---\n\n# card\n")],
                          commit_message="m")
    with pytest.raises(RepositoryNotFoundError):
        api.create_commit("acme/absent", [CommitOperationAdd("a.txt", b"a")], commit_message="m")
