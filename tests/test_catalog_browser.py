"""The catalog in a real headless Chromium: no console errors, filters, search, every link, file://.

Needs Debian's Chromium (``apt-get install -y chromium``) and Python Playwright
(``pip install playwright``); Playwright drives /usr/bin/chromium, so no browser download is
needed. Skipped, with the reason, when either is missing. Screenshots go to
``test-artifacts/catalog/`` (or ``$ZOO_TEST_ARTIFACTS/catalog/``).
"""

from __future__ import annotations

import os
import shutil
from collections import deque
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

from catalog_support import IMAGE_BACKBONE, ExtraPlugin, catalog_manager, write_runs

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = next((p for p in (os.environ.get("ZOO_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser"), "/usr/bin/chromium") if p and Path(p).is_file()), None)
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (apt-get install -y chromium); the browser tests need it",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Python Playwright is not installed (pip install playwright)")

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
ARTIFACTS = Path(os.environ.get("ZOO_TEST_ARTIFACTS") or REPO / "test-artifacts") / "catalog"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    from zoo.catalog import build_site
    from zoo.config import settings
    from zoo.plugins import list_backbone_tables
    from zoo.registry import build_registry

    base = tmp_path_factory.mktemp("catalog")
    pm = catalog_manager(ExtraPlugin())
    registry = build_registry(settings=settings({}), plugin_tables=lambda: list_backbone_tables(manager=pm))
    build_site(base / "site", runs=[write_runs(base / "runs")], docs_dir=REPO / "docs", manager=pm, registry=registry)
    return base / "site"


@pytest.fixture(scope="module")
def base_url(site):
    from zoo.catalog import serve_in_thread

    server, url = serve_in_thread(site)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    pg.errors = []  # console errors, uncaught exceptions and failed requests, per page
    pg.on("console", lambda m: pg.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(f"uncaught: {e}"))
    pg.on("requestfailed", lambda r: pg.errors.append(f"request failed: {r.url}"))
    yield pg
    context.close()


def _visible_names(pg) -> list[str]:
    return pg.eval_on_selector_all("#backbones tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.name)")


def _screenshot(pg, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_index_loads_with_no_console_errors(page, base_url):
    response = page.goto(base_url + "index.html")
    assert response is not None and response.status == 200
    assert page.title() == "Backbones · transferzoo catalog"
    assert len(_visible_names(page)) == 6
    assert page.text_content("#count") == "6 of 6 backbones"
    assert page.evaluate("getComputedStyle(document.querySelector('header.site')).display") == "flex"  # CSS loaded
    _screenshot(page, "index.png")
    assert page.errors == []


def test_filtering_by_modality_narrows_the_list(page, base_url):
    page.goto(base_url + "index.html")
    page.select_option("#modality", "image")
    assert _visible_names(page) == [IMAGE_BACKBONE["name"]]
    assert page.text_content("#count") == "1 of 6 backbones"
    page.select_option("#modality", "text")
    assert IMAGE_BACKBONE["name"] not in _visible_names(page) and len(_visible_names(page)) == 5
    page.select_option("#integrity", "verified")
    assert _visible_names(page) == ["all-minilm-l6-v2"]
    page.click("#reset")
    page.fill("#pmax", "25")  # millions of parameters
    assert _visible_names(page) == ["all-minilm-l6-v2", IMAGE_BACKBONE["name"]]
    page.fill("#pmin", "10")
    assert _visible_names(page) == ["all-minilm-l6-v2"]
    page.select_option("#license", "mit")
    assert _visible_names(page) == [] and page.is_visible("#empty")
    _screenshot(page, "index-filtered.png")
    assert page.errors == []


def test_search_finds_a_backbone_by_a_word_of_its_description(page, base_url):
    page.goto(base_url + "index.html")
    page.fill("#q", "weakly")  # e5-small-v2: "weakly-supervised contrastive pre-training"
    assert _visible_names(page) == ["e5-small-v2"]
    page.fill("#q", "Sibling")  # all-minilm-l12-v2: "12-layer sibling of all-MiniLM-L6-v2"; case-insensitive
    assert _visible_names(page) == ["all-minilm-l12-v2"]
    page.fill("#q", "contrastive retrieval")  # every word must match (tags count)
    assert _visible_names(page) == ["bge-small-en-v1.5", "e5-small-v2", "gte-small"]
    page.goto(base_url + "index.html?q=minilm&modality=text")  # filters from the query string
    assert page.input_value("#q") == "minilm"
    assert _visible_names(page) == ["all-minilm-l12-v2", "all-minilm-l6-v2"]
    page.click("#backbones a[href='backbones/all-minilm-l6-v2.html']")
    assert page.url.endswith("/backbones/all-minilm-l6-v2.html")
    assert page.is_visible("text=Published reference results")
    _screenshot(page, "backbone.png")
    assert page.errors == []


def test_every_internal_link_resolves(page, base_url, site):
    """Crawl from the index: every same-site page loads (200, no console errors), every anchor exists."""
    seen, queue, anchors, problems = set(), deque([base_url + "index.html"]), [], []
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        response = page.goto(url)
        if response is None or response.status != 200:
            problems.append(f"{url}: HTTP {response.status if response else 'no response'}")
            continue
        problems += [f"{url}: {e}" for e in page.errors]
        page.errors.clear()
        ids = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        for href in page.eval_on_selector_all("a[href], link[href]", "els => els.map(e => e.href)"):
            if href.startswith("data:") or urlsplit(href).netloc != urlsplit(base_url).netloc:
                continue
            target, fragment = urldefrag(href)
            if fragment:
                anchors.append((url, target, fragment, ids if target == url else None))
            if target.endswith(".html") or target.endswith("/"):
                queue.append(target)
            elif target not in seen:  # stylesheets and other files
                seen.add(target)
                r = page.request.get(target)
                if r.status != 200:
                    problems.append(f"{url} -> {target}: HTTP {r.status}")
    for url, target, fragment, ids in anchors:
        if ids is None:
            page.goto(target)
            ids = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        if fragment not in ids:
            problems.append(f"{url} -> {target}#{fragment}: no such anchor")
    assert problems == []
    pages = {p for p in seen if p.endswith(".html")}
    on_disk = {base_url + p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    assert pages == on_disk  # every page is reachable from the index


def test_the_site_works_from_disk(page, site):
    page.goto((site / "index.html").as_uri())
    assert page.evaluate("getComputedStyle(document.querySelector('header.site')).display") == "flex"
    page.fill("#q", "bge")
    assert _visible_names(page) == ["bge-small-en-v1.5"]
    page.click("#backbones a[href='backbones/bge-small-en-v1.5.html']")
    assert page.url == (site / "backbones" / "bge-small-en-v1.5.html").as_uri()
    page.click("header nav >> text=components")
    assert page.url == (site / "components" / "index.html").as_uri()
    page.click("a:text-is('logistic-probe')")
    assert page.is_visible("text=In a recipe")
    assert page.errors == []
