"""The documentation site: collected data, generated MyST pages, the Sphinx build, links, CLI, server.

The Sphinx build is slow, so one site is built per session (the ``catalog_site`` fixture in
conftest.py) and shared with the browser tests; the atomic-replacement tests use a stand-in for
the Sphinx step, since what they check is the folder handling around it.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from catalog_support import IMAGE_BACKBONE, REPRODUCTION_ID, RUN_IDS, ExtraPlugin, catalog_manager, write_runs
from zoo.catalog import (CatalogError, build_site, check_hrefs, check_links, collect_catalog, render_sources,
                         serve_in_thread)
from zoo.catalog.docgen import generated_pages, stale_docs
from zoo.catalog.markup import code, fence, link, safe_url, text
from zoo.catalog.site import MARKER
from zoo.plugins import describe_options, list_components
from zoo.registry import build_registry

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return write_runs(tmp_path / "runs")


@pytest.fixture
def manager():
    return catalog_manager()


def _read(site: Path, rel: str) -> str:
    return (site / rel).read_text(encoding="utf-8")


def _plain(site: Path, rel: str) -> str:
    """A page's text as a reader sees it (tags dropped, entities decoded)."""
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", _read(site, rel)))


# --- safe Markdown ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "java\nscript:alert(1)", "vbscript:msgbox", "data:text/html,<script>x</script>", "file:///etc/passwd",
    "//evil.example/x", "http:no-host", "", None, 42,
])
def test_unsafe_urls_are_refused(url):
    assert safe_url(url) is None
    assert "](" not in link("label", url)


@pytest.mark.parametrize("url", ["https://huggingface.co/x/tree/abc", "http://example.org", "mailto:a@b.org",
                                 "quickstart.md", "../backbones/x.html#files", "#anchor"])
def test_safe_urls_are_kept(url):
    assert safe_url(url) == url


def test_text_escapes_markdown_roles_and_html():
    assert text("<script>x</script>") == "\\<script\\>x\\<\\/script\\>"
    assert text("[x](javascript:y) {eval-rst}`z` *a* | b\nc") == (
        "\\[x\\]\\(javascript\\:y\\) \\{eval\\-rst\\}\\`z\\` \\*a\\* \\| b c")
    assert code("a ``b`` c") == "```a ``b`` c```"
    assert fence("```\ninside\n```", "bash").startswith("````bash\n")


# --- collected data --------------------------------------------------------------------------------


def test_collect_reads_real_run_records_leniently(manager, runs):
    cat = collect_catalog(manager=manager, runs=[runs])
    assert {r["run_id"] for r in cat["runs"]} == {*RUN_IDS, REPRODUCTION_ID}
    assert [w for w in cat["warnings"] if "broken-run" in w], cat["warnings"]
    # the dataset has no name in the record: it is named after the folder of its files;
    # one board per task and protocol (evaluator, its protocol and options)
    boards = {(b["task"], b["evaluator"]): b for b in cat["leaderboards"]}
    assert set(boards) == {("banking77", "logistic-probe"), ("banking77", "head"), ("MR", "logistic-probe")}
    probe = boards["banking77", "logistic-probe"]
    assert probe["protocol"] == "standard" and probe["options"] == {}
    # the subset run ranks by its metric but is marked; the reproduction is not ranked at all
    assert [(r["run_id"], r["metrics"]["accuracy"], r["subset"]) for r in probe["rows"]] == [
        (RUN_IDS[3], 0.9001, {"max_train": 500, "max_test": 200}), (RUN_IDS[0], 0.8149, {})]
    assert REPRODUCTION_ID not in {r["run_id"] for b in cat["leaderboards"] for r in b["rows"]}
    runs_by_id = {r["run_id"]: r for r in cat["runs"]}
    assert runs_by_id[RUN_IDS[0]]["reproductions"] == [REPRODUCTION_ID]
    assert runs_by_id[REPRODUCTION_ID]["reproduces"] == RUN_IDS[0]
    assert cat["runs"][0]["run_id"] == REPRODUCTION_ID  # newest first


def test_collect_reads_typed_records_and_skips_what_is_not_one(manager, tmp_path):
    from catalog_support import write_run

    write_run(tmp_path, run_id="r1", backbone="all-minilm-l6-v2", revision="a" * 40, data_dir="digits",
              metrics={"logistic-probe": {"accuracy": 0.9, "macro_f1": 0.89}}, finished_at="2026-01-01T00:00:41Z")
    (tmp_path / "r2").mkdir()
    (tmp_path / "r2" / "record.json").write_text(json.dumps({"format": 2, "run_id": "r2", "metrics": {}}))
    (tmp_path / "r4").mkdir()
    (tmp_path / "r4" / "record.json").write_text(json.dumps({**json.loads((tmp_path / "r1" / "record.json")
                                                                          .read_text()), "format": 99}))
    (tmp_path / "r3.partial").mkdir()
    (tmp_path / "r3.partial" / "record.json").write_text(json.dumps({"run_id": "r3"}))
    cat = collect_catalog(manager=manager, runs=[tmp_path])
    row = cat["leaderboards"][0]["rows"][0]
    assert cat["leaderboards"][0]["task"] == "digits"
    assert (row["recipe"], row["backbone"], row["metrics"]["accuracy"]) == ("banking77-probe", "all-minilm-l6-v2", 0.9)
    assert [r["run_id"] for r in cat["runs"]] == ["r1"]
    assert cat["runs"][0]["created_utc"] == "2026-01-01T00:00:41Z"
    warnings = "\n".join(cat["warnings"])
    assert str(tmp_path / "r2" / "record.json") in warnings and "incomplete" in warnings
    assert str(tmp_path / "r4" / "record.json") in warnings and "format 99" in warnings
    assert "r3" not in warnings  # an interrupted run is not read at all


# --- generated pages (MyST sources) -----------------------------------------------------------------


def test_every_backbone_component_plugin_and_run_gets_a_source_page(manager, runs):
    cat = collect_catalog(manager=manager, runs=[runs], docs_dir=DOCS)
    files = render_sources(cat)
    registry = build_registry()
    for entry in registry:
        page = files[f"backbones/{entry.name}.md"]
        assert entry.revision in page and entry.name in files["backbones/index.md"]
    for comp in list_components(manager=manager):
        assert f"components/{comp.kind}.{comp.name}.md" in files
    for run_id in (*RUN_IDS, REPRODUCTION_ID):
        assert f"runs/{run_id}.md" in files
    assert files["guide/quickstart.md"] == (DOCS / "quickstart.md").read_text(encoding="utf-8")
    assert "automodule:: zoo.registry" in files["api/index.md"]


def test_a_plugin_installed_later_appears_in_the_next_build_and_its_text_is_escaped():
    before = render_sources(collect_catalog(manager=catalog_manager()))
    assert "components/head.cosine.md" not in before and f"backbones/{IMAGE_BACKBONE['name']}.md" not in before
    after = render_sources(collect_catalog(manager=catalog_manager(ExtraPlugin())))
    head = after["components/head.cosine.md"]
    assert "| `learn_scale` | `bool` | `false` | learn the scale with the head |" in head
    assert "temperature applied to the cosine logits" in head
    assert "`zoo-extra-test` 0\\.3\\.1" in head and "(../plugins/extra-plugin.md)" in head
    assert "[head.options]\nscale = 16.0" in head
    plugin = after["plugins/extra-plugin.md"]
    assert "`register_heads`" in plugin and "(../components/head.cosine.md)" in plugin
    backbone = after[f"backbones/{IMAGE_BACKBONE['name']}.md"]
    assert "recorded on first download" in backbone
    assert "\\<script\\>alert\\(1\\)\\<\\/script\\>" in backbone and "<script>" not in backbone
    assert "| Paper | javascript\\:alert\\(document\\.domain\\) |" in backbone  # text, not a link
    assert "<script>alert" not in after["backbones/index.md"]


# --- the built site (one Sphinx build per session) ------------------------------------------------------


def test_the_site_has_every_page_and_only_safe_links(catalog_site):
    site, report = catalog_site
    assert report.out == site.resolve() and (site / MARKER).is_file()
    assert check_links(site) == []
    assert check_hrefs(site) == []
    registry = build_registry()
    for entry in registry:
        page = _read(site, f"backbones/{entry.name}.html")
        assert entry.repo_id in page and entry.revision in page
        assert f'href="https://huggingface.co/{entry.repo_id}/tree/{entry.revision}"' in page
        for f in entry.files:
            assert html.escape(f.filename) in page and (not f.sha256 or f.sha256 in page)
    components = list_components(manager=catalog_manager())
    assert {c.kind for c in components} >= {"architecture", "head", "freezing", "evaluator", "dataset", "command"}
    for comp in components:
        page = _plain(site, f"components/{comp.kind}.{comp.name}.html")
        for opt in describe_options(comp.options):
            assert opt.name in page and opt.help in page
    for plugin in ("zoo.default_plugins.heads", "zoo.default_plugins.catalog_commands", "extra-plugin"):
        assert (site / "plugins" / f"{plugin}.html").is_file()
    # the hostile plugin entry and guide page: shown as text, never as markup or a link
    hostile = _read(site, f"backbones/{IMAGE_BACKBONE['name']}.html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile and "<script>alert(1)" not in hostile
    assert "javascript:alert(document.domain)" in hostile
    unsafe = _read(site, "guide/unsafe-links.html")
    assert 'href="https://example.org/"' in unsafe and 'href="quickstart.html"' in unsafe
    for scheme in ("javascript", "data", "vbscript"):
        assert f'href="{scheme}:' not in unsafe.lower()
    assert "raw anchor" in unsafe and "script link" in unsafe  # shown as text
    # guide, API reference and search are one site
    for name in ("index", "installation", "quickstart", "registry", "offline", "reproducibility", "components"):
        assert (site / "guide" / f"{name}.html").is_file()
    assert 'href="quickstart.html"' in _read(site, "guide/index.html")
    assert "zoo.registry.backbone_info" in _read(site, "api/index.html")
    assert (site / "search.html").is_file() and (site / "searchindex.js").is_file()
    assert report.counts["backbones"] == len(registry) + 1 and report.counts["runs"] == 5


def test_leaderboards_group_by_task_and_protocol_and_mark_subsets(catalog_site):
    site, _ = catalog_site
    board = _read(site, "results/banking77.html")
    assert board.index("90.01") < board.index("81.49")  # best first
    assert "[80.13, 82.86]" in board and "max_train = 500" in board and "subset" in board
    assert REPRODUCTION_ID not in board  # reproductions are not ranked
    assert board.count("<h2>") >= 2 and "logistic-probe · standard" in board and "trained head" in board
    assert "not-in-registry" in _read(site, "results/MR.html")
    minilm = _read(site, "backbones/all-minilm-l6-v2.html")
    assert "81.49" in minilm and RUN_IDS[0] in minilm and "80.04" in minilm  # measured beside published


def test_a_run_page_shows_metrics_report_recipe_lineage_environment_and_reproductions(catalog_site):
    site, _ = catalog_site
    page = _plain(site, f"runs/{RUN_IDS[0]}.html")
    for needle in ("81.49", "[80.13, 82.86]", "[79.80, 82.60]", "standard",  # metrics with intervals, protocol
                   "max_iter = 1000   # default", "[data.options]",  # the resolved recipe with defaults
                   "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",  # lineage: backbone hash
                   "abababab", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # data hashes
                   "2.13.0+cpu", "zoo.default_plugins.probes",  # environment and plugins
                   "Most confused pairs", "intent_00", "intent_01"):  # 25 classes: pairs named in a table
        assert needle in page, needle
    assert f'href="{REPRODUCTION_ID}.html"' in _read(site, f"runs/{RUN_IDS[0]}.html")
    import re

    def images(rel: str) -> list[str]:
        found = re.findall(r'<img[^>]* src="([^"]+)"', _read(site, rel))
        assert all((site / "runs" / src).resolve().is_file() for src in found), found
        return [Path(src).stem for src in found]

    assert [s.rstrip("0123456789") for s in images(f"runs/{RUN_IDS[0]}.html")] == ["confusion"]
    assert [s.rstrip("0123456789") for s in images(f"runs/{RUN_IDS[1]}.html")] == ["learning_curve", "confusion"]
    assert "Most confused pairs" not in _plain(site, f"runs/{RUN_IDS[1]}.html")  # 3 classes: named on the axes
    subset = _read(site, f"runs/{RUN_IDS[3]}.html")
    assert "subset of the data" in subset and "max_test = 200" in subset
    repro = _read(site, f"runs/{REPRODUCTION_ID}.html")
    assert "is a reproduction" in repro and f'href="{RUN_IDS[0]}.html"' in repro


def test_check_links_reports_broken_links_and_anchors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text('<a href="a/b.html#x">ok</a> <a href="missing.html">no</a> '
                                         '<a href="https://example.org/x">ext</a> <a href="#top">top</a>')
    (tmp_path / "a" / "b.html").write_text('<h2 id="x">x</h2><a href="../index.html#nope">bad anchor</a>')
    broken = check_links(tmp_path)
    assert broken == ["a/b.html -> ../index.html#nope (no such anchor)", "index.html -> missing.html (no such file)",
                      "index.html -> #top (no such anchor)"]


def test_check_hrefs_reports_every_unsafe_scheme(tmp_path):
    (tmp_path / "p.html").write_text('<a href="javascript:alert(1)">a</a><img src="data:image/png;base64,xx">'
                                     '<form action="vbscript:x"></form><a href="JaVa&#9;script:x">b</a>'
                                     '<a href="https://ok.org">ok</a><a href="x.html#y">rel</a>')
    assert check_hrefs(tmp_path) == ["p.html: javascript:alert(1)", "p.html: data:image/png;base64,xx",
                                     "p.html: vbscript:x", "p.html: JaVa\tscript:x"]


# --- atomic replacement (the Sphinx step stood in for: what is checked is the folder handling) ---------


@pytest.fixture
def quick_sphinx(monkeypatch):
    """Stand in for the Sphinx run with one page per source page, so the folder handling runs fast."""
    import zoo.catalog.sphinx_build as sb

    def fake(srcdir, outdir, *, jobs=1):
        for md in Path(srcdir).rglob("*.md"):
            target = Path(outdir) / md.relative_to(srcdir).with_suffix(".html")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("<p>page</p>", encoding="utf-8")
        return []

    monkeypatch.setattr(sb, "run_sphinx", fake)


def test_build_replaces_the_site_atomically(tmp_path, monkeypatch, quick_sphinx):
    site = tmp_path / "site"
    build_site(site, manager=catalog_manager(ExtraPlugin()), api=False)
    assert (site / "components" / "head.cosine.html").is_file()
    (site / "stale.html").write_text("left over")
    build_site(site, manager=catalog_manager(), api=False)
    assert not (site / "stale.html").exists()  # a fresh tree, not an overlay
    assert not (site / "components" / "head.cosine.html").exists()

    import zoo.catalog.site as site_mod

    before = _read(site, "index.html")
    monkeypatch.setattr(site_mod, "_replace_dir", lambda tmp, out: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError):
        build_site(site, manager=catalog_manager(), api=False)
    assert _read(site, "index.html") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no temporary folder left behind


def test_build_refuses_unsafe_links_and_leaves_the_old_site(tmp_path, monkeypatch, quick_sphinx):
    import zoo.catalog.sphinx_build as sb

    site = tmp_path / "site"
    build_site(site, manager=catalog_manager(), api=False)
    fake = sb.run_sphinx

    def leaky(srcdir, outdir, *, jobs=1):
        fake(srcdir, outdir)
        (Path(outdir) / "index.html").write_text('<a href="javascript:alert(1)">x</a>', encoding="utf-8")
        return []

    monkeypatch.setattr(sb, "run_sphinx", leaky)
    with pytest.raises(CatalogError, match="javascript:alert"):
        build_site(site, manager=catalog_manager(), api=False)
    assert _read(site, "index.html") == "<p>page</p>"


def test_build_refuses_to_replace_a_folder_that_is_not_a_catalog(tmp_path, quick_sphinx):
    mine = tmp_path / "important"
    mine.mkdir()
    (mine / "thesis.tex").write_text("do not delete")
    with pytest.raises(CatalogError, match="refusing to replace"):
        build_site(mine, manager=catalog_manager(), api=False)
    assert (mine / "thesis.tex").read_text() == "do not delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["important"]


def test_without_the_docs_stack_the_command_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    from zoo.cli.main import build_parser
    from zoo.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "furo", None)  # `import furo` now raises ImportError, as when not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'transferzoo\[catalog\]'") as err:
        build_site(tmp_path / "site", manager=catalog_manager())
    assert err.value.package == "furo" and err.value.extra == "catalog"
    assert not (tmp_path / "site").exists()
    monkeypatch.chdir(tmp_path)
    args = build_parser(catalog_manager()).parse_args(["catalog", "build", "--out", "out"])
    with pytest.raises(MissingExtraError):  # zoo.cli.main prints it as one line, exit 1
        args._run(args)
    assert not (tmp_path / "out").exists()


# --- generated docs ----------------------------------------------------------------------------------


def test_generated_docs_are_up_to_date():
    stale = stale_docs(DOCS)
    assert not stale, f"docs/{', docs/'.join(stale)} stale against the code: run `python -m zoo.catalog.docgen`"


def test_generated_reference_lists_every_builtin_component_option():
    text = generated_pages()["components.md"]
    assert text.startswith("<!-- Generated by `python -m zoo.catalog.docgen`")
    for comp in list_components(manager=catalog_manager()):
        if comp.plugin.startswith("zoo.default_plugins.") and comp.plugin != "zoo.default_plugins.catalog_commands":
            assert f"### `{comp.name}`" in text
            for opt in describe_options(comp.options):
                assert f"| `{opt.name}` |" in text
    assert "### `[training]`" in text and "| `epochs` |" in text


def test_docgen_check_exits_1_when_stale(tmp_path):
    from zoo.catalog.docgen import main

    assert main(["--docs", str(tmp_path), "--check"]) == 1
    assert main(["--docs", str(tmp_path)]) == 0
    assert main(["--docs", str(tmp_path), "--check"]) == 0


# --- command line and server ---------------------------------------------------------------------------


def test_zoo_catalog_build_command(tmp_path, runs, capsys, monkeypatch, quick_sphinx):
    from zoo.cli.main import build_parser

    monkeypatch.chdir(tmp_path)
    parser = build_parser(catalog_manager())
    args = parser.parse_args(["catalog", "build", "--out", "out", "--runs", str(runs), "--docs", str(DOCS)])
    assert args._run(args) == 0
    out = capsys.readouterr()
    assert "5 runs in 3 leaderboards" in out.out and "broken-run" in out.err
    assert (tmp_path / "out" / "results" / "banking77.html").is_file()
    assert (tmp_path / "out" / "runs" / f"{RUN_IDS[0]}.html").is_file()
    # without --runs, ./runs is used when it exists (the fixture wrote it there)
    assert runs == tmp_path / "runs"
    args = parser.parse_args(["catalog", "build", "--no-api"])
    assert args._run(args) == 0
    assert (tmp_path / "site" / "results" / "banking77.html").is_file()
    assert not (tmp_path / "site" / "api").exists()


def test_the_command_module_imports_nothing_heavy():
    code = ("import sys, zoo.default_plugins.catalog_commands; "
            "print(sorted(m for m in ('torch', 'sklearn', 'sphinx', 'zoo.catalog') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_serve_on_loopback_serves_only_regular_files_inside_the_site(tmp_path, quick_sphinx):
    site = tmp_path / "site"
    build_site(site, manager=catalog_manager(), api=False)
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the site")
    (site / "passwd.html").symlink_to("/etc/passwd")
    (site / "secret.txt").symlink_to(secret)
    (site / "etc").symlink_to("/etc", target_is_directory=True)
    (site / "empty-folder").mkdir()
    server, url = serve_in_thread(site)
    try:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "backbones/all-minilm-l6-v2.html", timeout=10) as resp:
            assert resp.status == 200 and resp.read() == b"<p>page</p>"
        with urllib.request.urlopen(url, timeout=10) as resp:  # the folder's index.html
            assert resp.status == 200
        for path in ("nope.html", "passwd.html", "secret.txt", "etc/passwd", "etc/", "etc", "empty-folder/",
                     "../secret.txt", "%2e%2e/secret.txt", "backbones/../../secret.txt"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(url + path, timeout=10)
            assert err.value.code in (404, 301) and b"root:" not in err.value.read(), path
    finally:
        server.shutdown()
        server.server_close()


def test_recipe_snippets_validate_against_the_runner():
    """The TOML the catalog shows is a recipe the runner accepts (files are not checked here)."""
    from zoo._toml import tomllib
    from zoo.catalog.snippets import component_toml, recipe_snippet
    from zoo.runner.recipe import recipe_from_dict

    base = tomllib.loads(recipe_snippet("all-minilm-l6-v2"))
    recipe = recipe_from_dict(base, check_files=False)
    assert (recipe.backbone.name, recipe.data.loader, recipe.evaluators[0].name) == (
        "all-minilm-l6-v2", "csv", "logistic-probe")
    image = tomllib.loads(recipe_snippet("resnet20-cifar10", "image"))  # for passes that need conv blocks
    assert recipe_from_dict(image, check_files=False).data.loader == "image-folder"
    for comp in list_components(manager=catalog_manager()):
        if comp.kind not in ("head", "freezing", "evaluator", "compression", "dataset"):
            continue
        opts = [o._asdict() for o in describe_options(comp.options)]
        table = tomllib.loads(component_toml(comp.kind, comp.name, opts))
        if comp.kind == "dataset":
            assert table["data"]["loader"] == comp.name
            continue
        needs = frozenset(getattr(comp.obj, "capabilities", ()) or ())
        recipe_from_dict({**(image if "conv-blocks" in needs else base), **table}, check_files=False)
