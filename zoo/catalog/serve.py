"""Serve a built catalog on the loopback interface with the standard library's ``http.server``.

Only regular files inside the site are served: a path with a symbolic link anywhere in it (a
link planted in the site that points at ``/etc/passwd``, say), a path outside the site, a
device or a folder without ``index.html`` is answered 404. Folders are never listed.
"""

from __future__ import annotations

import functools
import http.server
import os
import stat
import threading
from pathlib import Path

__all__ = ["make_server", "serve", "serve_in_thread", "HOST"]

HOST = "127.0.0.1"
"""Only loopback: the catalog is a local reading tool, not a public web server."""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files of one folder; logs one short line per request (or nothing when quiet)."""

    quiet = False

    def _regular_file(self, path: str) -> bool:
        """Whether ``path`` is a regular file inside the site, reached through no symbolic link."""
        root = os.path.realpath(self.directory)
        rel = os.path.relpath(path, root)
        if rel == os.curdir or rel.startswith(os.pardir + os.sep) or rel == os.pardir or os.path.isabs(rel):
            return False
        current = root
        for part in rel.split(os.sep):
            current = os.path.join(current, part)
            try:
                mode = os.lstat(current).st_mode
            except OSError:
                return False
            if stat.S_ISLNK(mode):
                return False
        return stat.S_ISREG(mode)

    def send_head(self):  # type: ignore[no-untyped-def]  # http.server's signature
        path = self.translate_path(self.path)
        if os.path.isdir(path) and not os.path.islink(path) and self.path.split("?", 1)[0].split("#", 1)[0].endswith("/"):
            path = os.path.join(path, "index.html")
        elif os.path.isdir(path) and not os.path.islink(path):
            return super().send_head()  # the redirect to the folder's "/" form
        if not self._regular_file(path):
            self.send_error(http.server.HTTPStatus.NOT_FOUND, "File not found")
            return None
        return super().send_head()

    def list_directory(self, path):  # type: ignore[no-untyped-def]  # never list a folder
        self.send_error(http.server.HTTPStatus.NOT_FOUND, "File not found")
        return None

    def log_message(self, format: str, *args: object) -> None:  # http.server's parameter name
        if not self.quiet:
            super().log_message(format, *args)


def make_server(directory: Path, *, port: int = 8000, quiet: bool = False) -> http.server.ThreadingHTTPServer:
    """An HTTP server for ``directory`` bound to 127.0.0.1:``port`` (``0`` picks a free port).

    Raises:
        FileNotFoundError: ``directory`` does not exist.
        OSError: the port is in use.
    """
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such folder; build the catalog first (`zoo catalog build`).")
    handler = type("CatalogHandler", (_QuietHandler,), {"quiet": quiet})
    return http.server.ThreadingHTTPServer((HOST, port), functools.partial(handler, directory=str(directory)))


def serve_in_thread(directory: Path, *, port: int = 0) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start a quiet server in a daemon thread (for tests); returns it and its base URL.

    Stop it with ``server.shutdown(); server.server_close()``.
    """
    server = make_server(directory, port=port, quiet=True)
    threading.Thread(target=server.serve_forever, name="zoo-catalog-serve", daemon=True).start()
    return server, f"http://{HOST}:{server.server_address[1]}/"


def serve(directory: Path, *, port: int = 8000) -> None:
    """Serve ``directory`` until interrupted (Ctrl-C)."""
    with make_server(directory, port=port) as server:
        print(f"serving {directory} at http://{HOST}:{server.server_address[1]}/ (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
