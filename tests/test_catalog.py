"""The documentation catalog: collected data, rendered pages, atomic builds, docs, CLI, server."""

from __future__ import annotations

import html
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from catalog_support import IMAGE_BACKBONE, ExtraPlugin, catalog_manager, write_runs
from zoo.catalog import CatalogError, build_site, check_links, collect_catalog, markdown_to_html, serve_in_thread
from zoo.catalog.docgen import generated_pages, stale_docs
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


# --- the Markdown subset ------------------------------------------------------------------------


def test_markdown_subset_renders_headings_lists_code_links_and_tables():
    text = (
        "# Title *here*\n\nA paragraph with `code <b>`, **bold** and a [link](other.md#part).\n\n"
        "- one\n- two\n  - nested\n- three\n\n1. first\n2. second\n\n"
        "```toml\n[backbone]\nname = \"x\" # <not html>\n```\n\n"
        "| key | type |\n|---|---:|\n| `a \\| b` | int |\n\n> quoted\n\n<script>alert(1)</script>\n"
    )
    out = markdown_to_html(text, resolve_link=lambda t: t.replace(".md", ".html"))
    assert '<h1 id="title-here">Title <em>here</em></h1>' in out
    assert "<code>code &lt;b&gt;</code>" in out and "<strong>bold</strong>" in out
    assert '<a href="other.html#part">link</a>' in out
    assert "<li>two\n<ul>\n<li>nested</li>\n</ul></li>" in out
    assert "<ol>\n<li>first</li>\n<li>second</li>\n</ol>" in out
    assert '<pre><code class="language-toml">[backbone]\nname = "x" # &lt;not html&gt;</code></pre>' in out
    assert '<th style="text-align:right">type</th>' in out and "<td><code>a | b</code></td>" in out
    assert "<blockquote>" in out
    assert "<script>" not in out and "&lt;script&gt;" in out


def test_markdown_indented_code_and_comments():
    out = markdown_to_html("<!-- generated:\n  do not edit -->\nText:\n\n    @hookimpl\n    def f(): <x>\n\nAfter.\n")
    assert "generated" not in out
    assert out == "<p>Text:</p>\n<pre><code>@hookimpl\ndef f(): &lt;x&gt;</code></pre>\n<p>After.</p>\n"


def test_markdown_unresolvable_link_keeps_its_text():
    out = markdown_to_html("See [the code](../zoo/x.py).", resolve_link=lambda t: None)
    assert '<span class="dead-link">the code</span>' in out and "href" not in out


# --- collected data --------------------------------------------------------------------------------


def test_collect_reads_real_run_records_leniently(manager, runs):
    cat = collect_catalog(manager=manager, runs=[runs])
    assert {r["run_id"] for r in cat["runs"]} == {
        "banking77-probe-20261127T101500Z-a1b2c3", "banking77-probe-20261128T090000Z-d4e5f6",
        "mr-probe-20261128T120000Z-0a0b0c"}
    assert [w for w in cat["warnings"] if "broken-run" in w], cat["warnings"]
    # the dataset has no name in the record: it is named after the folder of its files
    board = cat["leaderboards"]["banking77"]
    assert [(r["evaluator"], r["metrics"]["accuracy"]) for r in board] == [("logistic-probe", 0.8149), ("head", 0.7011)]
    assert cat["runs"][0]["created_utc"] == "2026-11-28T12:00:41Z"  # newest first
    assert set(cat["leaderboards"]) == {"banking77", "MR"}


def test_collect_accepts_a_minimal_record(manager, tmp_path):
    run = tmp_path / "r1"
    run.mkdir()
    (run / "record.json").write_text(json.dumps({
        "run_id": "r1", "recipe": "tiny", "created_utc": "2026-01-01T00:00:00Z",
        "backbone": {"name": "all-minilm-l6-v2", "repo_id": "x/y", "revision": "a" * 40, "sha256": "b" * 64},
        "dataset": {"name": "digits", "fingerprint": "f" * 64},
        "metrics": {"logistic-probe": {"accuracy": 0.9, "macro_f1": 0.89, "ci95": 0.01}},
    }))
    (tmp_path / "r2").mkdir()
    (tmp_path / "r2" / "record.json").write_text(json.dumps({"metrics": "not a table"}))
    cat = collect_catalog(manager=manager, runs=[tmp_path])
    row = cat["leaderboards"]["digits"][0]
    assert (row["recipe"], row["backbone"], row["metrics"]["ci95"]) == ("tiny", "all-minilm-l6-v2", 0.01)
    assert {r["run_id"] for r in cat["runs"]} == {"r1", "r2"}


# --- the built site -------------------------------------------------------------------------------


def test_every_backbone_and_component_gets_a_page_with_its_reference(manager, runs, tmp_path):
    site = tmp_path / "site"
    report = build_site(site, runs=[runs], docs_dir=DOCS, manager=manager)
    assert report.out == site.resolve() and (site / MARKER).is_file()
    assert check_links(site) == []

    registry = build_registry()
    index = _read(site, "index.html")
    for entry in registry:
        assert f'href="backbones/{entry.name}.html"' in index
        page = _read(site, f"backbones/{entry.name}.html")
        assert entry.repo_id in page and entry.revision in page
        assert f'href="https://huggingface.co/{entry.repo_id}/tree/{entry.revision}"' in page
        for f in entry.files:
            assert html.escape(f.filename) in page
            if f.sha256:
                assert f.sha256 in page
        for ref in entry.references:
            assert html.escape(ref.source) in page and html.escape(ref.task) in page
        assert f'zoo.load_backbone(&quot;{entry.name}&quot;)' in page or f'zoo.load_backbone("{entry.name}")' in page
        assert f"zoo info {entry.name}" in page and "[backbone]" in page

    components = list_components(manager=manager)
    assert {c.kind for c in components} >= {"architecture", "head", "freezing", "evaluator", "dataset", "command"}
    comp_index = _read(site, "components/index.html")
    for comp in components:
        rel = f"components/{comp.kind}.{comp.name}.html"
        assert f'href="{comp.kind}.{comp.name}.html"' in comp_index
        page = _read(site, rel)
        assert html.escape(comp.summary) in page
        for opt in describe_options(comp.options):
            assert f"<code>{html.escape(opt.name)}</code>" in page and html.escape(opt.help) in page
            assert html.escape(opt.type) in page

    for plugin in ("zoo.default_plugins.heads", "zoo.default_plugins.catalog_commands"):
        assert (site / "plugins" / f"{plugin}.html").is_file()

    # measured results on the backbone page and the leaderboard; published ones stay beside them
    minilm = _read(site, "backbones/all-minilm-l6-v2.html")
    assert "81.49" in minilm and "banking77-probe-20261127T101500Z-a1b2c3" in minilm and "80.04" in minilm
    board = _read(site, "results/banking77.html")
    assert board.index("81.49") < board.index("70.11") and "[80.13, 82.86]" in board
    assert "not-in-registry" in _read(site, "results/MR.html")

    # the guide is part of the site; .md links became .html links
    for name in ("index", "installation", "quickstart", "registry", "offline", "reproducibility", "components"):
        assert (site / "docs" / f"{name}.html").is_file()
    assert 'href="quickstart.html"' in _read(site, "docs/index.html")
    assert report.counts["backbones"] == len(registry) and report.counts["runs"] == 3


def test_a_plugin_installed_later_appears_in_the_next_build(tmp_path):
    site = tmp_path / "site"
    build_site(site, manager=catalog_manager())
    assert not (site / "components" / "head.cosine.html").exists()
    assert not (site / "backbones" / "tiny-vit-example.html").exists()

    build_site(site, manager=catalog_manager(ExtraPlugin()))
    head = _read(site, "components/head.cosine.html")
    assert "temperature applied to the cosine logits" in head and "learn_scale" in head
    assert "zoo-extra-test" in head and 'href="../plugins/extra-plugin.html"' in head
    assert "[head.options]\nscale = 16.0" in html.unescape(head)
    plugin = _read(site, "plugins/extra-plugin.html")
    assert "register_heads" in plugin and "0.3.1" in plugin and 'href="../components/head.cosine.html"' in plugin
    backbone = _read(site, f"backbones/{IMAGE_BACKBONE['name']}.html")
    assert "plugin:extra-plugin" in backbone and "recorded on first download" in backbone
    # text from a plugin is escaped, never markup
    assert "<script>alert(1)</script>" not in backbone and "&lt;script&gt;alert(1)&lt;/script&gt;" in backbone
    assert "<script>alert" not in _read(site, "index.html")
    assert check_links(site) == []


def test_build_replaces_the_site_atomically(tmp_path, monkeypatch):
    site = tmp_path / "site"
    build_site(site, manager=catalog_manager(ExtraPlugin()))
    (site / "stale.html").write_text("left over")
    build_site(site, manager=catalog_manager())
    assert not (site / "stale.html").exists()  # a fresh tree, not an overlay
    assert not (site / "components" / "head.cosine.html").exists()

    import zoo.catalog.site as site_mod

    def boom(files, out):
        raise RuntimeError("disk full")

    before = _read(site, "index.html")
    monkeypatch.setattr(site_mod, "render_site", lambda cat: {"index.html": "new", "x/" * 3 + "y.html": "z"})
    monkeypatch.setattr(site_mod, "_replace_dir", lambda tmp, out: boom(None, out))
    with pytest.raises(RuntimeError):
        build_site(site, manager=catalog_manager())
    assert _read(site, "index.html") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no temporary folder left behind


def test_build_refuses_to_replace_a_folder_that_is_not_a_catalog(tmp_path):
    mine = tmp_path / "important"
    mine.mkdir()
    (mine / "thesis.tex").write_text("do not delete")
    with pytest.raises(CatalogError, match="refusing to replace"):
        build_site(mine, manager=catalog_manager())
    assert (mine / "thesis.tex").read_text() == "do not delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["important"]


def test_check_links_reports_broken_links_and_anchors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text('<a href="a/b.html#x">ok</a> <a href="missing.html">no</a> '
                                         '<a href="https://example.org/x">ext</a> <a href="#top">top</a>')
    (tmp_path / "a" / "b.html").write_text('<h2 id="x">x</h2><a href="../index.html#nope">bad anchor</a>')
    broken = check_links(tmp_path)
    assert broken == ["a/b.html -> ../index.html#nope (no such anchor)", "index.html -> missing.html (no such file)",
                      "index.html -> #top (no such anchor)"]


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


def test_zoo_catalog_build_command(tmp_path, runs, capsys, monkeypatch):
    from zoo.cli.main import build_parser

    monkeypatch.chdir(tmp_path)
    parser = build_parser(catalog_manager())
    args = parser.parse_args(["catalog", "build", "--out", "out", "--runs", str(runs), "--docs", str(DOCS)])
    assert args._run(args) == 0
    out = capsys.readouterr()
    assert "3 runs in 2 leaderboards" in out.out and "broken-run" in out.err
    assert (tmp_path / "out" / "results" / "banking77.html").is_file()
    # without --runs, ./runs is used when it exists (the fixture wrote it there)
    assert runs == tmp_path / "runs"
    args = parser.parse_args(["catalog", "build"])
    assert args._run(args) == 0
    assert (tmp_path / "site" / "results" / "banking77.html").is_file()


def test_the_command_module_imports_nothing_heavy():
    code = ("import sys, zoo.default_plugins.catalog_commands; "
            "print(sorted(m for m in ('torch', 'sklearn', 'zoo.catalog') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_serve_on_loopback(tmp_path):
    site = tmp_path / "site"
    build_site(site, manager=catalog_manager())
    server, url = serve_in_thread(site)
    try:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "backbones/all-minilm-l6-v2.html", timeout=10) as resp:
            assert resp.status == 200 and b"1110a243fdf4706b3f48f1d95db1a4f5529b4d41" in resp.read()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url + "nope.html", timeout=10)
        assert err.value.code == 404
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
    for comp in list_components(manager=catalog_manager()):
        if comp.kind not in ("head", "freezing", "evaluator", "compression", "dataset"):
            continue
        opts = [o._asdict() for o in describe_options(comp.options)]
        table = tomllib.loads(component_toml(comp.kind, comp.name, opts))
        if comp.kind == "dataset":
            assert table["data"]["loader"] == comp.name
            continue
        recipe_from_dict({**base, **table}, check_files=False)
