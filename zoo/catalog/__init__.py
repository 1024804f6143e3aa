"""The documentation catalog: a static, browsable site of backbones, components, plugins and results.

``zoo catalog build`` collects the registry, the loaded plugins' components (with their option
schemas), run records and the Markdown user guide, renders them to HTML with the standard
library, and writes the site atomically; ``zoo catalog serve`` serves it on 127.0.0.1. Every
link is relative, so the site also works opened from disk. ``python -m zoo.catalog.docgen``
regenerates the reference pages of ``docs/``.
"""

from __future__ import annotations

from .collect import collect_catalog
from .markdown import markdown_to_html
from .render import render_site
from .serve import make_server, serve, serve_in_thread
from .site import BuildReport, CatalogError, build_site, check_links, default_docs_dir, write_site

__all__ = [
    "BuildReport",
    "CatalogError",
    "build_site",
    "check_links",
    "collect_catalog",
    "default_docs_dir",
    "make_server",
    "markdown_to_html",
    "render_site",
    "serve",
    "serve_in_thread",
    "write_site",
]
