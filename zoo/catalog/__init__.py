"""The documentation site: the user guide, the API reference and a catalog of what is installed.

``zoo catalog build`` collects the registry, the loaded plugins' components (with their option
schemas), run records and the Markdown user guide, writes them as MyST Markdown pages
(:mod:`zoo.catalog.pages`), builds one site with Sphinx and the Furo theme
(:mod:`zoo.catalog.sphinx_build`; the ``transferzoo[catalog]`` extra), checks every link, and
replaces the site atomically; ``zoo catalog serve`` serves it on 127.0.0.1. Every link is
relative, so the site also works opened from disk. ``python -m zoo.catalog.docgen``
regenerates the reference pages of ``docs/``.
"""

from __future__ import annotations

from .collect import collect_catalog
from .pages import render_sources
from .serve import make_server, serve, serve_in_thread
from .site import BuildReport, CatalogError, build_site, check_hrefs, check_links, default_docs_dir
from .sphinx_build import require_stack

__all__ = [
    "BuildReport",
    "CatalogError",
    "build_site",
    "check_hrefs",
    "check_links",
    "collect_catalog",
    "default_docs_dir",
    "make_server",
    "render_sources",
    "require_stack",
    "serve",
    "serve_in_thread",
]
