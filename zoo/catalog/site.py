"""Build the catalog into a folder, atomically, and check its internal links.

The site is written into a temporary folder beside the target, then renamed into place, so a
reader (or ``zoo catalog serve``) sees the old site or the new one, never half of one. A
marker file, ``.zoo-catalog``, tells a catalog folder apart: an existing folder without it is
never replaced.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import unquote, urlsplit

from ..errors import ZooError
from .collect import collect_catalog
from .render import render_site

__all__ = ["BuildReport", "CatalogError", "build_site", "write_site", "check_links", "default_docs_dir",
           "MARKER"]

MARKER = ".zoo-catalog"


class CatalogError(ZooError, OSError):
    """The catalog cannot be written where asked (the folder exists and is not a catalog)."""


@dataclass(frozen=True)
class BuildReport:
    """What a build wrote: the site folder, the pages, and what was counted."""

    out: Path
    pages: tuple[str, ...]
    counts: dict[str, int]
    warnings: tuple[str, ...] = field(default=())


def default_docs_dir() -> Path | None:
    """The ``docs/`` folder beside the ``zoo`` package (a source checkout), if there is one."""
    here = Path(__file__).resolve().parents[2] / "docs"
    return here if here.is_dir() else None


def _replace_dir(tmp: Path, out: Path) -> None:
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise CatalogError(f"{out} exists and is not a plain folder (a file or a link); choose another --out.")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise CatalogError(
                f"{out} exists and is not a catalog built by zoo (no {MARKER} file); refusing to replace it. "
                "Choose another --out, or empty the folder."
            )
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.replace(out, old / "site")
        try:
            os.replace(tmp, out)
        except BaseException:
            os.replace(old / "site", out)
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def write_site(files: dict[str, str], out: Path) -> None:
    """Write ``{relative path: text}`` as a site at ``out``, atomically."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        for rel, text in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        (tmp / MARKER).write_text("built by `zoo catalog build`; this folder is replaced on each build\n",
                                  encoding="utf-8")
        for d in (tmp, *(p for p in tmp.rglob("*") if p.is_dir())):
            d.chmod(0o755)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def build_site(
    out: Path,
    *,
    runs: Iterable[Path] = (),
    docs_dir: Path | None = None,
    manager: Any = None,
    registry: Any = None,
) -> BuildReport:
    """Collect the registry, plugins, run records and docs, render them, and write the site to ``out``.

    Raises:
        CatalogError: ``out`` exists and is not a catalog folder.
        ComponentCollisionError, RegistryError: the plugins or the registry do not load.
    """
    cat = collect_catalog(manager=manager, registry=registry, runs=runs, docs_dir=docs_dir)
    files = render_site(cat)
    write_site(files, Path(out))
    counts = {k: len(cat[k]) for k in ("backbones", "components", "plugins", "runs", "docs")}
    counts["leaderboards"] = len(cat["leaderboards"])
    return BuildReport(Path(out).resolve(), tuple(sorted(files)), counts, tuple(cat["warnings"]))


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(a[key] or "")


def check_links(site: Path) -> list[str]:
    """Internal links (``href``/``src``) of every page that do not resolve to a file or anchor.

    Returns ``["page -> target (why)"]``; external (``scheme:``) links are not checked.
    """
    site = Path(site)
    parsed: dict[str, _Links] = {}
    for page in sorted(site.rglob("*.html")):
        p = _Links()
        p.feed(page.read_text(encoding="utf-8"))
        parsed[page.relative_to(site).as_posix()] = p
    broken = []
    for rel, p in parsed.items():
        for href in p.links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", href):
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), unquote(parts.path))) \
                if parts.path else rel
            if target.startswith("../") or target == "..":
                broken.append(f"{rel} -> {href} (outside the site)")
            elif not (site / target).is_file():
                broken.append(f"{rel} -> {href} (no such file)")
            elif parts.fragment and target in parsed and parts.fragment not in parsed[target].ids:
                broken.append(f"{rel} -> {href} (no such anchor)")
    return broken
