"""The documentation site in a real headless Chromium: search, dark mode, run pages, comparisons,
filters, every link, no console errors, no horizontal overflow on a phone, and file://.

Needs Debian's Chromium (``apt-get install -y chromium``) and Python Playwright
(``pip install playwright``); Playwright drives /usr/bin/chromium, so no browser download is
needed. Skipped, with the reason, when either is missing. The site is the session's one Sphinx
build (``catalog_site`` in conftest.py). Screenshots go to ``test-artifacts/catalog/`` (or
``$ZOO_TEST_ARTIFACTS/catalog/``).
"""

from __future__ import annotations

import os
import shutil
from collections import deque
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

from catalog_support import IMAGE_BACKBONE, REPRODUCTION_ID, RUN_IDS

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
def site(catalog_site) -> Path:
    return catalog_site[0]


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


def _new_page(browser, **context):
    ctx = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, "color_scheme": "light", **context})
    pg = ctx.new_page()
    pg.set_default_timeout(15_000)
    pg.errors = []  # console errors, uncaught exceptions and failed requests, per page
    pg.on("console", lambda m: pg.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(f"uncaught: {e}"))
    # a fetch the page itself cancels by navigating away (Sphinx's search fetches each result page
    # for its summary) fails with net::ERR_ABORTED: that is not a broken link
    pg.on("requestfailed", lambda r: None if "ERR_ABORTED" in (r.failure or "")
          else pg.errors.append(f"request failed: {r.url} ({r.failure})"))
    return ctx, pg


def _shows(page, selector: str) -> bool:
    """Whether `selector` becomes visible: waits (up to the page's timeout) for the navigation a
    click started to finish, where ``is_visible`` would read the old or half-loaded page."""
    try:
        page.locator(selector).first.wait_for(state="visible")
    except sync_api.TimeoutError:
        return False
    return True


@pytest.fixture
def page(browser):
    ctx, pg = _new_page(browser)
    yield pg
    ctx.close()


@pytest.fixture
def phone(browser):
    ctx, pg = _new_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                        device_scale_factor=2)
    yield pg
    ctx.close()


def _visible_names(pg) -> list[str]:
    return pg.eval_on_selector_all("#backbones tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.name)")


def _screenshot(pg, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def _search(pg, base_url: str, query: str) -> list[str]:
    """Type ``query`` into the sidebar's search box; the result links, once Sphinx's search has run."""
    pg.goto(base_url + "index.html")
    box = pg.locator("form.sidebar-search-container input[name=q]")
    box.fill(query)
    box.press("Enter")
    pg.wait_for_url("**/search.html?q=*")
    pg.wait_for_function("() => document.querySelector('#search-results') && "
                         "!document.querySelector('#search-results').classList.contains('empty') && "
                         "document.querySelectorAll('#search-results li').length > 0 || "
                         "(document.querySelector('#search-results p') || {}).textContent")
    return pg.eval_on_selector_all("#search-results li a", "as => as.map(a => a.getAttribute('href'))")


def test_the_landing_page_loads_with_no_console_errors(page, base_url):
    response = page.goto(base_url + "index.html")
    assert response is not None and response.status == 200
    assert page.title().startswith("transferzoo")
    assert page.is_visible("text=API reference") and page.is_visible("text=Backbones")
    _screenshot(page, "index.png")
    assert page.errors == []


def test_site_wide_search_finds_a_guide_page_a_component_and_a_backbone(page, base_url):
    found = _search(page, base_url, "quickstart")
    assert any(h.startswith("guide/quickstart.html") for h in found), found
    found = _search(page, base_url, "logistic")
    assert any(h.startswith("components/evaluator.logistic-probe.html") for h in found), found
    found = _search(page, base_url, "bge")
    assert any(h.startswith("backbones/bge-small-en-v1.5.html") for h in found), found
    _screenshot(page, "search.png")
    page.click("#search-results a[href^='backbones/bge-small-en-v1.5.html']")
    assert _shows(page, "text=Published reference results")
    assert page.errors == []


def test_dark_mode_toggles(page, base_url):
    page.goto(base_url + "guide/quickstart.html")

    def background() -> str:
        return page.evaluate("getComputedStyle(document.body).backgroundColor")

    light = background()
    seen = {page.evaluate("document.body.dataset.theme")}
    toggle = page.locator("button.theme-toggle:visible").first
    for _ in range(3):  # Furo cycles auto -> dark -> light (or auto -> light -> dark)
        toggle.click()
        seen.add(page.evaluate("document.body.dataset.theme"))
        if page.evaluate("document.body.dataset.theme") == "dark":
            break
    assert page.evaluate("document.body.dataset.theme") == "dark", seen
    dark = background()
    assert dark != light
    r, g, b = (int(x) for x in dark[dark.index("(") + 1:dark.index(")")].split(",")[:3])
    assert r + g + b < 3 * 80, dark  # a dark background
    _screenshot(page, "dark.png")
    page.reload()  # the choice is remembered
    assert page.evaluate("document.body.dataset.theme") == "dark"
    assert page.errors == []


def test_a_run_page_opens_from_the_leaderboard(page, base_url):
    page.goto(base_url + "results/index.html")
    page.click("a[href='banking77.html']")
    assert page.url.endswith("/results/banking77.html")
    assert _shows(page, "text=subset")  # the subset run is marked
    page.click(f"a[href='../runs/{RUN_IDS[0]}.html']")
    assert page.url.endswith(f"/runs/{RUN_IDS[0]}.html")
    for text in ("Metrics", "Resolved recipe", "Lineage", "Environment", "Plugins", "Reproductions",
                 "Most confused pairs"):
        assert page.locator(f"h2:has-text('{text}'), p:has-text('{text}')").count() >= 1, text
    page.click(f"a[href='{REPRODUCTION_ID}.html']")
    assert _shows(page, "text=is a reproduction")
    _screenshot(page, "run.png")
    assert page.errors == []


def test_runs_compare_side_by_side(page, base_url):
    page.goto(base_url + f"results/compare.html?runs={RUN_IDS[0]},{RUN_IDS[3]}")
    table = page.locator("#zoo-compare")
    assert table.is_visible()
    assert table.locator("thead th").all_text_contents()[1:] == [RUN_IDS[3], RUN_IDS[0]]  # newest first
    row = table.locator("tr:has(th:text-is('logistic-probe: accuracy'))")
    assert row.locator("td").all_text_contents() == ["90.01", "81.49"]
    assert "zoo-diff" in (row.get_attribute("class") or "")
    page.check(f"input[value='{RUN_IDS[1]}']")
    assert len(table.locator("thead th").all_text_contents()) == 4
    assert RUN_IDS[1] in page.url  # the selection is kept in the address
    page.uncheck(f"input[value='{RUN_IDS[0]}']")
    page.uncheck(f"input[value='{RUN_IDS[3]}']")
    assert not table.is_visible() and page.is_visible("#zoo-compare-hint")
    _screenshot(page, "compare.png")
    assert page.errors == []


def test_backbone_filters_narrow_the_list(page, base_url):
    from zoo.config import settings
    from zoo.registry import build_registry

    entries = [*build_registry(settings=settings({})), None]  # None: the extra plugin's image backbone
    rows = [(e.name, e.modality, e.license, e.integrity, e.num_params) if e else
            (IMAGE_BACKBONE["name"], "image", IMAGE_BACKBONE["license"], "tofu", IMAGE_BACKBONE["num_params"])
            for e in entries]

    def expect(keep) -> list[str]:
        return [r[0] for r in sorted(rows) if keep(*r)]

    page.goto(base_url + "backbones/index.html")
    assert page.text_content("#count") == f"{len(rows)} of {len(rows)} backbones"
    page.select_option("#modality", "image")
    assert sorted(_visible_names(page)) == expect(lambda n, m, lic, i, p: m == "image")
    assert IMAGE_BACKBONE["name"] in _visible_names(page)
    page.select_option("#modality", "text")
    assert sorted(_visible_names(page)) == expect(lambda n, m, lic, i, p: m == "text")
    page.select_option("#integrity", "verified")
    assert _visible_names(page) == ["all-minilm-l6-v2"]
    page.click("#reset")
    page.fill("#pmax", "25")  # millions of parameters
    assert sorted(_visible_names(page)) == expect(lambda n, m, lic, i, p: p <= 25e6)
    page.fill("#pmin", "10")
    assert _visible_names(page) == ["all-minilm-l6-v2"]
    page.select_option("#license", "mit")
    assert _visible_names(page) == [] and page.is_visible("#empty")
    page.goto(base_url + "backbones/index.html?q=minilm&modality=text")  # filters from the query string
    assert page.input_value("#q") == "minilm"
    assert sorted(_visible_names(page)) == ["all-minilm-l12-v2", "all-minilm-l6-v2"]
    page.fill("#q", "contrastive retrieval")  # every word must match (tags count)
    assert sorted(_visible_names(page)) == ["bge-small-en-v1.5", "e5-small-v2", "gte-small"]
    _screenshot(page, "backbones-filtered.png")
    assert page.errors == []


@pytest.mark.parametrize("rel", ["index.html", "backbones/index.html", "backbones/all-minilm-l6-v2.html",
                                 "components/evaluator.logistic-probe.html", "results/banking77.html",
                                 f"runs/{RUN_IDS[0]}.html", "results/compare.html", "guide/components.html",
                                 "guide/recipes.html", "api/index.html"])
def test_no_horizontal_overflow_on_a_phone(phone, base_url, rel):
    query = f"?runs={RUN_IDS[0]},{RUN_IDS[1]}" if rel.endswith("compare.html") else ""
    phone.goto(base_url + rel + query)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{rel}: the page is {width} px wide on a 390 px screen"
    assert phone.is_visible("label.toc-overlay-icon, .mobile-header")  # the navigation collapses
    _screenshot(phone, "phone-" + rel.replace("/", "_").replace(".html", ".png"), full_page=False)
    assert phone.errors == []


def test_every_internal_link_resolves_with_no_console_errors(page, base_url, site):
    """Crawl from the landing page: every same-site page loads (200, no console errors), every anchor exists."""
    seen, queue, anchors, problems = set(), deque([base_url + "index.html"]), [], []
    ids_of: dict[str, set[str]] = {}  # the element ids of each page the crawl loaded
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
        ids = ids_of[url] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        for href in page.eval_on_selector_all("a[href], link[href]", "els => els.map(e => e.href)"):
            if urlsplit(href).netloc != urlsplit(base_url).netloc:
                continue
            target, fragment = urldefrag(href)
            target = target.split("?", 1)[0]
            if fragment:
                anchors.append((url, target, fragment))
            if target.endswith(".html") or target.endswith("/"):
                queue.append(target)
            elif target not in seen:  # stylesheets and other files
                seen.add(target)
                r = page.request.get(target)
                if r.status != 200:
                    problems.append(f"{url} -> {target}: HTTP {r.status}")
    for url, target, fragment in anchors:
        if target not in ids_of:  # a page the crawl did not load (a link to a non-HTML target)
            page.goto(target)
            ids_of[target] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        if fragment not in ids_of[target]:
            problems.append(f"{url} -> {target}#{fragment}: no such anchor")
    assert problems == []
    pages = {p for p in seen if p.endswith(".html")}
    on_disk = {base_url + p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    assert on_disk - pages <= {base_url + "genindex.html", base_url + "py-modindex.html"} or not (on_disk - pages), \
        sorted(on_disk - pages)[:10]


def test_the_site_works_from_disk(page, site):
    page.goto((site / "backbones" / "index.html").as_uri())
    page.fill("#q", "bge")
    assert _visible_names(page) == ["bge-small-en-v1.5"]
    page.click("#backbones a[href='bge-small-en-v1.5.html']")
    assert page.url == (site / "backbones" / "bge-small-en-v1.5.html").as_uri()
    page.click("a[href='../components/architecture.bert.html']")
    assert page.url == (site / "components" / "architecture.bert.html").as_uri()
    assert _shows(page, "text=Backbones using it")
    assert page.errors == []
