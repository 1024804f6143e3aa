"""Getting pinned, verified files from the Hugging Face Hub (or its local cache)."""

from .hashing import git_blob_sha1, sha256_file
from .importer import ImportReport, import_directory, repo_cache_dir
from .lockfile import LockFile
from .resolve import ResolvedBackbone, cached_files, resolve
from .verify import FileCheck, verify_cached

__all__ = [
    "FileCheck",
    "ImportReport",
    "LockFile",
    "ResolvedBackbone",
    "cached_files",
    "git_blob_sha1",
    "import_directory",
    "repo_cache_dir",
    "resolve",
    "sha256_file",
    "verify_cached",
]
