"""Build the catalog (with Sphinx) into a folder, atomically, and check its links.

The site is built in a temporary folder beside the target, then renamed into place, so a
reader (or ``zoo catalog serve``) sees the old site or the new one, never half of one. A
marker file, ``.zoo-catalog``, tells a catalog folder apart: an existing folder without it is
never replaced. Before the rename every URL of every page is checked (:func:`check_hrefs`):
only http(s), mailto and relative links may reach a page.
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
from typing import Any, Callable, Iterable
from urllib.parse import unquote, urlsplit

from ..errors import ZooError
from .collect import collect_catalog

__all__ = ["BuildReport", "CatalogError", "build_site", "check_links", "check_hrefs", "default_docs_dir",
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
    sphinx_warnings: tuple[str, ...] = field(default=())


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


def _recipe_defaults(manager: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``resolved recipe -> {table path: default values}`` from the recipe and component schemas."""
    from ..errors import ZooError
    from ..plugins import describe_options, get_component

    try:
        from ..runner import recipe as r
    except ImportError:  # pragma: no cover - the runner ships with zoo
        return lambda resolved: {}
    required = {"name", "loader"}

    def schema(spec: Any) -> dict[str, Any]:
        if spec is None:
            return {}
        return {o.name: o.default for o in describe_options(spec) if o.name not in required}

    def options(kind: str, name: Any) -> dict[str, Any]:
        try:
            return schema(get_component(kind, str(name), manager=manager).options)
        except (ZooError, TypeError, ValueError):
            return {}

    base = {"": schema(getattr(r, "TopSpec", None)), "backbone": schema(getattr(r, "BackboneSpec", None)),
            "data": schema(getattr(r, "DataSpec", None)), "training": schema(getattr(r, "TrainingSpec", None))}

    def defaults(resolved: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        data = resolved.get("data") if isinstance(resolved.get("data"), dict) else {}
        if data.get("loader"):
            out["data.options"] = options("dataset", data["loader"])
        for table, fallback in (("head", "linear"), ("freezing", "all-but-head")):
            spec = resolved.get(table) if isinstance(resolved.get(table), dict) else {}
            name = spec.get("name") or fallback
            out[table] = {"name": fallback}
            out[f"{table}.options"] = options(table, name)
        for table, kind in (("evaluators", "evaluator"), ("compression", "compression")):
            items = resolved.get(table) if isinstance(resolved.get(table), list) else []
            for i, item in enumerate(items):
                if isinstance(item, dict) and item.get("name"):
                    out[f"{table}.{i}.options"] = options(kind, item["name"])
        return out

    return defaults


def _run_plots(tmp: Path) -> Callable[[dict[str, Any]], tuple[dict[str, list[str]], dict[str, bytes]]]:
    """Draw a run's plots from its record and ``confusion.json`` (tables only without matplotlib)."""
    import json

    from .. import plots
    from .collect import slug

    can_draw = plots.available()

    def draw(run: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, bytes]]:
        folder = tmp / slug(run["run_id"])
        folder.mkdir(parents=True, exist_ok=True)
        confusions: dict[str, Any] = {}
        labels: list[str] = []
        path = Path(run["dir"]) / "confusion.json" if run["dir"] else None
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                confusions = {k: v for k, v in data.get("matrices", {}).items() if isinstance(v, list)}
                labels = [str(x) for x in data.get("label_names", [])]
            except (OSError, UnicodeDecodeError, ValueError, AttributeError):
                confusions = {}
        record = {"training": {"history": run["history"]}}
        lines = plots.report_plots(folder, record, confusions=confusions, label_names=labels)
        files = {f"{folder.name}/{p.name}": p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
        prefix = f"{folder.name}/"
        fixed = {k: [ln.replace("](", "](" + prefix) if ln.startswith("![") else ln for ln in v]
                 for k, v in lines.items()}
        fixed = {k: [_escape_table_line(ln) for ln in v] for k, v in fixed.items()}
        fixed["_can_draw"] = ["yes"] if can_draw else []
        return fixed, files

    return draw


def _escape_table_line(line: str) -> str:
    """Rows of the "most confused pairs" table name classes from the data: escape them for MyST."""
    from . import markup

    if not line.startswith("| ") or line.startswith("| true |") or line.startswith("|---"):
        return line
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
    return "| " + " | ".join(markup.text(c.replace("\\|", "|")) for c in cells) + " |"


def build_site(
    out: Path,
    *,
    runs: Iterable[Path] = (),
    docs_dir: Path | None = None,
    manager: Any = None,
    registry: Any = None,
    api: bool = True,
    jobs: int = 1,
) -> BuildReport:
    """Collect the registry, plugins, run records and docs, build the site with Sphinx, write it to ``out``.

    The source pages (MyST Markdown) and the HTML are made in a temporary folder beside ``out``;
    the HTML replaces ``out`` only after every link on every page was checked
    (:func:`check_hrefs`). ``api=False`` leaves out the API reference.

    Raises:
        MissingExtraError: the documentation stack (``transferzoo[catalog]``) is not installed.
        CatalogError: ``out`` exists and is not a catalog folder, or a page links to a scheme
            other than http(s) or mailto.
        ComponentCollisionError, RegistryError: the plugins or the registry do not load.
    """
    from .. import __version__
    from ..plugins import get_manager
    from .assets import STATIC_FILES
    from .pages import API_MODULES, render_sources
    from .sphinx_build import conf_py, require_stack, run_sphinx

    require_stack()
    if manager is None:
        manager = get_manager()
    cat = collect_catalog(manager=manager, registry=registry, runs=runs, docs_dir=docs_dir)
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.build-"))
    try:
        src, html = work / "src", work / "html"
        files = render_sources(cat, plot_runs=_run_plots(work / "plots"),
                               recipe_defaults=_recipe_defaults(manager),
                               api_modules=API_MODULES if api else ())
        files["conf.py"] = conf_py(version=__version__, static=sorted(STATIC_FILES))
        for name, text in STATIC_FILES.items():
            files[f"_static/{name}"] = text
        for rel, data in files.items():
            target = src / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, bytes):
                target.write_bytes(data)
            else:
                target.write_text(data, encoding="utf-8")
        sphinx_warnings = run_sphinx(src, html, jobs=jobs)
        for leftover in (".buildinfo", ".doctrees"):
            path = html / leftover
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        unsafe = check_hrefs(html)
        if unsafe:
            raise CatalogError("the built site links to schemes other than http(s) and mailto; nothing was "
                               "replaced:\n  " + "\n  ".join(unsafe[:20]))
        (html / MARKER).write_text("built by `zoo catalog build`; this folder is replaced on each build\n",
                                   encoding="utf-8")
        for d in (html, *(p for p in html.rglob("*") if p.is_dir())):
            d.chmod(0o755)
        pages = tuple(sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")))
        _replace_dir(html, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts = {k: len(cat[k]) for k in ("backbones", "components", "plugins", "runs", "docs")}
    counts["leaderboards"] = len(cat["leaderboards"])
    return BuildReport(out, pages, counts, tuple(cat["warnings"]), tuple(sphinx_warnings))


_URL_ATTRS = ("href", "src", "action", "formaction", "xlink:href", "poster", "data", "srcset")


class _Urls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in _URL_ATTRS and value is not None:
                self.urls += [v.strip().split(" ")[0] for v in value.split(",")] if key == "srcset" else [value]


def check_hrefs(site: Path) -> list[str]:
    """Every URL attribute of every page whose scheme is not http(s) or mailto: ``["page: url"]``.

    Relative links and in-page anchors pass; ``javascript:``, ``data:``, ``vbscript:`` and any
    other scheme are reported.
    """
    from .markup import safe_url

    bad = []
    for page in sorted(Path(site).rglob("*.html")):
        parser = _Urls()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        bad += [f"{page.relative_to(site).as_posix()}: {url}" for url in parser.urls
                if url.strip() and safe_url(url) is None]
    return bad


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
