"""Render the collected catalog data (:func:`zoo.catalog.collect_catalog`) into HTML pages.

:func:`render_site` is a pure function: data in, ``{relative path: file text}`` out. Pages:

- ``index.html``: every backbone, with client-side search and filters;
- ``backbones/NAME.html``: metadata, pinned commit, file hashes, published and measured results,
  usage snippets;
- ``components/index.html`` and ``components/KIND.NAME.html``: the options reference;
- ``plugins/index.html`` and ``plugins/NAME.html``;
- ``results/index.html`` and ``results/DATASET.html``: leaderboards from run records;
- ``docs/NAME.html``: the Markdown user guide (when a docs folder was collected).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from .assets import CSS, INDEX_JS
from .collect import slug
from .layout import (badge, code_block, definition_list, esc, fmt_default, fmt_metric, fmt_params, link,
                     page, table)
from .markdown import markdown_to_html
from .snippets import RECIPE_TABLES, cli_snippet, component_toml, python_snippet, recipe_snippet, toml_value

__all__ = ["render_site"]

_KIND_TITLES = {
    "architecture": "Architectures", "head": "Heads", "freezing": "Freezing policies",
    "compression": "Compression passes", "evaluator": "Evaluators", "dataset": "Datasets",
    "command": "Commands",
}


class _Site:
    """Cross-references between pages, computed once per build."""

    def __init__(self, cat: dict[str, Any]):
        self.cat = cat
        self.version = cat.get("version", "")
        self.backbones = {b["name"]: b for b in cat["backbones"]}
        self.components = {(c["kind"], c["name"]): c for c in cat["components"]}
        self.plugins = {p["name"]: p for p in cat["plugins"]}
        self.docs = {d["name"] for d in cat["docs"]}
        self.sections = ["backbones", "components", "plugins", "results"] + (["docs"] if cat["docs"] else [])

    def page(self, title: str, body: str, *, depth: int, section: str, script: str = "") -> str:
        return page(title=title, body_html=body, depth=depth, section=section, version=self.version,
                    sections=self.sections, script=script)

    def backbone_link(self, name: str, root: str) -> str:
        if name in self.backbones:
            return link(f"{root}backbones/{name}.html", name)
        return esc(name) if name else '<span class="note">unknown</span>'

    def component_link(self, kind: str, name: str, root: str) -> str:
        comp = self.components.get((kind, name))
        return link(f"{root}components/{comp['slug']}.html", name) if comp else esc(name)

    def plugin_link(self, name: str, root: str) -> str:
        return link(f"{root}plugins/{slug(name)}.html", name) if name in self.plugins else esc(name)

    def dataset_href(self, name: str, root: str) -> str:
        return f"{root}results/{slug(name)}.html"


def _options(values: set[str]) -> str:
    return "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in sorted(values))


# --- backbones ----------------------------------------------------------------------------------------


def _index(s: _Site) -> str:
    bbs = s.cat["backbones"]

    def select(field: str, label: str, values: set[str]) -> str:
        return (f'<label>{esc(label)}<select id="{field}"><option value="">any</option>{_options(values)}'
                "</select></label>")

    filters = (
        '<form class="filters" role="search" onsubmit="return false">'
        '<label class="search">Search names, descriptions and tags'
        '<input id="q" type="search" placeholder="e.g. minilm, retrieval, contrastive" autocomplete="off">'
        "</label>"
        + select("modality", "Modality", {b["modality"] for b in bbs})
        + select("license", "Licence", {b["license"] for b in bbs})
        + select("architecture", "Architecture", {b["architecture"] for b in bbs})
        + '<label>Hashes<select id="integrity"><option value="">any</option>'
          '<option value="verified">verified</option><option value="tofu">trust on first use</option>'
          "</select></label>"
        + '<label>Parameters (millions)<span class="range">'
          '<input id="pmin" type="number" min="0" step="any" placeholder="min" aria-label="minimum parameters">'
          "&ndash;"
          '<input id="pmax" type="number" min="0" step="any" placeholder="max" aria-label="maximum parameters">'
          "</span></label>"
        + '<button id="reset" type="button">Reset</button></form>'
    )
    rows, attrs = [], []
    for b in bbs:
        search = " ".join([b["name"], b["description"], b["repo_id"], b["architecture"], *b["tags"]]).lower()
        attrs.append(" ".join(f'data-{k}="{esc(v)}"' for k, v in (
            ("name", b["name"]), ("modality", b["modality"]), ("license", b["license"]),
            ("architecture", b["architecture"]), ("integrity", b["integrity"]),
            ("params", b["num_params"]), ("search", search))))
        rows.append([
            link(f"backbones/{b['name']}.html", b["name"]),
            esc(b["modality"]), esc(b["architecture"]), f'<span class="num">{fmt_params(b["num_params"])}</span>',
            esc(b["embedding_dim"]), esc(b["license"]), badge(b["integrity"], b["integrity"]),
            f'<span class="desc">{esc(b["description"])}</span>',
        ])
    body = (
        "<h1>Backbones</h1>"
        f'<p class="lead">{len(bbs)} pretrained backbones, each pinned to a commit with the sha256 of its files. '
        f'Search and filter below, or browse {link("components/index.html", "components")}, '
        f'{link("plugins/index.html", "plugins")} and {link("results/index.html", "results")}.</p>'
        + filters
        + f'<p class="count" id="count" aria-live="polite">{len(bbs)} of {len(bbs)} backbones</p>'
        + table(["Name", "Modality", "Architecture", "Params", "Dim", "Licence", "Hashes", "Description"],
                rows, attrs='id="backbones"', row_attrs=attrs)
        + '<p class="empty" id="empty" hidden>No backbone matches these filters.</p>'
    )
    return s.page("Backbones", body, depth=0, section="backbones", script=INDEX_JS)


def _source_html(text: str) -> str:
    if re.match(r"^https?://\S+$", text):
        return link(text, text)
    return esc(text)


def _runs_table(s: _Site, rows: list[dict[str, Any]], *, root: str, show_backbone: bool,
                show_dataset: bool) -> str:
    header = (["Rank"] if not show_dataset else []) + (["Dataset"] if show_dataset else []) \
        + (["Backbone"] if show_backbone else []) + ["Evaluator", "Accuracy", "Macro F1", "95% CI", "Recipe",
                                                     "Run", "Date (UTC)"]
    out = []
    for i, r in enumerate(rows, 1):
        m = r["metrics"]
        ci = m.get("accuracy_ci95", m.get("ci95"))
        ci_text = ("± " + fmt_metric("ci95", ci, scale_as="accuracy")) if isinstance(ci, (int, float)) \
            else fmt_metric("ci95", ci, scale_as="accuracy")
        cells = [] if show_dataset else [str(i)]
        if show_dataset:
            cells.append(link(s.dataset_href(r["dataset"], root), r["dataset"]))
        if show_backbone:
            cells.append(s.backbone_link(r["backbone"], root))
        cells += [
            s.component_link("evaluator", r["evaluator"], root) if r["evaluator"] else "",
            f'<span class="num">{esc(fmt_metric("accuracy", m.get("accuracy")))}</span>',
            f'<span class="num">{esc(fmt_metric("macro_f1", m.get("macro_f1")))}</span>',
            esc(ci_text), esc(r["recipe"]), f"<code>{esc(r['run_id'])}</code>", esc(r["created_utc"]),
        ]
        out.append(cells)
    return table(header, out)


def _backbone(s: _Site, b: dict[str, Any]) -> str:
    name = b["name"]
    arch = s.component_link("architecture", b["architecture"], "../")
    inp = ", ".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in b["input"].items())
    meta = definition_list([
        ("Hub repo", f"<code>{esc(b['repo_id'])}</code>"),
        ("Pinned commit", f'<code class="hash">{esc(b["revision"])}</code> '
                          f'({link(b["hub_url"], "files at this commit on the Hub")})'),
        ("Architecture", arch),
        ("Modality", esc(b["modality"])),
        ("Parameters", f"{fmt_params(b['num_params'])} ({b['num_params']:,})"),
        ("Embedding size", esc(b["embedding_dim"])),
        ("Pooling", esc(b["pooling"]) + (", L2-normalized" if b["normalize"] else "")),
        ("Input", esc(inp or "defaults")),
        ("Licence", esc(b["license"])),
        ("Tags", " ".join(badge(t) for t in b["tags"]) or "none"),
        ("Paper", link(b["paper"], b["paper"]) if b["paper"] else "none"),
        ("Defined in", f"<code>{esc(b['source'])}</code>"),
    ])
    if b["integrity"] == "verified":
        hash_note = "These hashes were verified by the registry's authors; every file is checked before it loads."
    else:
        hash_note = ("Trust on first use: each file's sha256 is recorded in the lock file on first download "
                     "(<code>zoo pull</code>) and every later download is checked against it.")
    tofu = badge("recorded on first download", "tofu")
    files = table(["File", "sha256"], [
        [f"<code>{esc(f['filename'])}</code>", f'<code class="hash">{esc(f["sha256"])}</code>' if f["sha256"] else tofu]
        for f in b["files"]
    ])
    refs = b["references"]
    refs_html = table(["Task", "Metric", "Value", "Protocol", "Source"], [
        [esc(r["task"]), esc(r["metric"]), f'<span class="num">{esc(r["value"])}</span>', esc(r["protocol"]),
         _source_html(r["source"])] for r in refs
    ]) if refs else '<p class="note">No published result is recorded for this backbone.</p>'
    measured = [dict(row, dataset=ds) for ds, rows in s.cat["leaderboards"].items()
                for row in rows if row["backbone"] == name]
    measured_html = _runs_table(s, measured, root="../", show_backbone=False, show_dataset=True) if measured \
        else ('<p class="note">No run of this backbone was collected. Run a recipe with <code>zoo run</code>, '
              "then <code>zoo catalog build --runs RUNS_DIR</code>.</p>")
    body = (
        f"<h1>{esc(name)}</h1>"
        f'<div class="badges">{badge(b["modality"], "kind")}{badge(b["license"])}'
        f'{badge(b["integrity"], b["integrity"])}{badge(fmt_params(b["num_params"]) + " params")}</div>'
        f'<p class="lead">{esc(b["description"])}</p>'
        f"<h2>Metadata</h2>{meta}"
        f'<h2>Files</h2><p class="note">{hash_note}</p>{files}'
        f"<h2>Published reference results</h2>{refs_html}"
        f"<h2>Measured results</h2>{measured_html}"
        "<h2>Usage</h2>"
        f"<h3>Python</h3>{code_block(python_snippet(name), 'python')}"
        f"<h3>Command line</h3>{code_block(cli_snippet(name), 'bash')}"
        f"<h3>Recipe</h3>{code_block(recipe_snippet(name), 'toml')}"
        '<p class="note">Recipes are run with <code>zoo run RECIPE</code>; the other tables are listed on '
        f'{link("../components/index.html", "the components page")}.</p>'
    )
    return s.page(name, body, depth=1, section="backbones")


# --- components and plugins ---------------------------------------------------------------------------


def _components_index(s: _Site) -> str:
    parts = ["<h1>Components</h1>",
             '<p class="lead">What plugins contribute, by kind. Each page lists the options a recipe can set.</p>']
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for c in s.cat["components"]:
        by_kind.setdefault(c["kind"], []).append(c)
    for kind, comps in by_kind.items():
        parts.append(f'<h2 id="{esc(kind)}">{esc(_KIND_TITLES.get(kind, kind))}</h2>')
        parts.append(table(["Name", "Summary", "Options", "Plugin"], [
            [link(f"{c['slug']}.html", c["name"]), esc(c["summary"]), esc(len(c["options"]) or ""),
             s.plugin_link(c["plugin"], "../")] for c in comps
        ]))
    if not by_kind:
        parts.append('<p class="empty">No component is registered.</p>')
    return s.page("Components", "".join(parts), depth=1, section="components")


def _options_table(options: list[dict[str, Any]]) -> str:
    if not options:
        return '<p class="note">This component takes no options.</p>'
    return table(["Option", "Type", "Default", "Help"], [
        [f"<code>{esc(o['name'])}</code>", f"<code>{esc(o['type'])}</code>",
         f"<code>{esc(fmt_default(o['default']))}</code>", esc(o["help"])] for o in options
    ])


def _component(s: _Site, c: dict[str, Any]) -> str:
    kind, name = c["kind"], c["name"]
    origin = s.plugin_link(c["plugin"], "../")
    if c["distribution"]:
        origin += f" (distribution <code>{esc(c['distribution'])}</code> {esc(c['version'] or '')})"
    options_class = f"<code>{esc(c['options_class'])}</code>" if c["options_class"] else "none"
    parts = [
        f"<h1>{esc(name)}</h1>",
        f'<div class="badges">{badge(kind, "kind")}</div>',
        f'<p class="lead">{esc(c["summary"])}</p>',
        definition_list([("Kind", esc(kind)), ("Plugin", origin), ("Options class", options_class)]),
    ]
    if c["doc"] and c["doc"].strip() != c["summary"].strip():
        parts.append(f'<h2>Description</h2><div class="doc">{esc(c["doc"])}</div>')
    if kind != "command":
        parts.append(f"<h2>Options</h2>{_options_table(c['options'])}")
    if kind in RECIPE_TABLES:
        parts.append("<h2>In a recipe</h2>" + code_block(component_toml(kind, name, c["options"]), "toml"))
    elif kind == "architecture":
        users = [b for b in s.cat["backbones"] if b["architecture"] == name]
        parts.append('<h2>In the registry</h2><p>Registry entries select it with '
                     f"<code>architecture = {esc(toml_value(name))}</code>.</p>")
        parts.append("<h3>Backbones using it</h3>" + (
            "<ul>" + "".join(f"<li>{s.backbone_link(b['name'], '../')}</li>" for b in users) + "</ul>"
            if users else '<p class="note">No registered backbone uses it.</p>'))
    elif kind == "command":
        parts.append("<h2>Usage</h2>" + code_block(f"zoo {name} --help\n", "bash"))
    return s.page(f"{name} ({kind})", "".join(parts), depth=1, section="components")


def _plugins_index(s: _Site) -> str:
    rows = []
    for p in s.cat["plugins"]:
        if p["error"]:
            status = badge("failed", "error")
        else:
            status = badge("builtin") if p["builtin"] else badge("installed", "verified")
        count = sum(len(v) for v in p["components"].values())
        rows.append([link(f"{p['slug']}.html", p["name"]), status, esc(p["distribution"] or ""),
                     esc(p["version"] or ""), esc(count), esc(", ".join(p["hooks"]))])
    body = ("<h1>Plugins</h1>"
            '<p class="lead">Builtins and installed plugins, loaded the same way. '
            "<code>zoo plugins list</code> shows the same on the command line.</p>"
            + table(["Plugin", "Status", "Distribution", "Version", "Components", "Hooks"], rows))
    return s.page("Plugins", body, depth=1, section="plugins")


def _plugin(s: _Site, p: dict[str, Any]) -> str:
    parts = [f"<h1>{esc(p['name'])}</h1>",
             definition_list([
                 ("Distribution", esc(p["distribution"] or "none (registered in memory)")),
                 ("Version", esc(p["version"] or "unknown")),
                 ("Builtin", "yes" if p["builtin"] else "no"),
                 ("Hooks", " ".join(f"<code>{esc(h)}</code>" for h in p["hooks"]) or "none"),
             ])]
    if p["error"]:
        parts.append(f'<h2>Load error</h2><p>{badge("failed", "error")} <code>{esc(p["error"])}</code></p>'
                     "<p>Run <code>zoo plugins doctor</code> for the traceback.</p>")
    for kind, names in p["components"].items():
        parts.append(f"<h2>{esc(_KIND_TITLES.get(kind, kind))}</h2><ul>"
                     + "".join(f"<li>{s.component_link(kind, n, '../')}: "
                               f"{esc(s.components.get((kind, n), {}).get('summary', ''))}</li>" for n in names)
                     + "</ul>")
    return s.page(p["name"], "".join(parts), depth=1, section="plugins")


# --- results --------------------------------------------------------------------------------------------


def _results_index(s: _Site) -> str:
    boards = s.cat["leaderboards"]
    if not boards:
        body = ("<h1>Results</h1><p class=\"empty\">No run records were collected. Run a recipe with "
                "<code>zoo run</code>, then build the catalog with <code>zoo catalog build --runs RUNS_DIR</code>.</p>")
        return s.page("Results", body, depth=1, section="results")
    rows = []
    for ds, board in boards.items():
        best = board[0]
        rows.append([link(f"{slug(ds)}.html", ds), esc(len({r['run_id'] for r in board})),
                     s.backbone_link(best["backbone"], "../"),
                     f'<span class="num">{esc(fmt_metric("accuracy", best["metrics"].get("accuracy")))}</span>'])
    body = ("<h1>Results</h1>"
            f'<p class="lead">Leaderboards from {len(s.cat["runs"])} run record(s), one per dataset.</p>'
            + table(["Dataset", "Runs", "Best backbone", "Best accuracy"], rows))
    return s.page("Results", body, depth=1, section="results")


def _leaderboard(s: _Site, dataset: str, rows: list[dict[str, Any]]) -> str:
    prints = sorted({r["fingerprint"] for r in rows if r["fingerprint"]})
    note = ""
    if prints:
        note = "Dataset fingerprint: " + ", ".join(f'<code class="hash">{esc(f)}</code>' for f in prints)
    if len(prints) > 1:
        note += " (several fingerprints: these runs did not all see the same data)"
    body = (f"<h1>{esc(dataset)}</h1><p class=\"lead\">{len(rows)} result(s), best accuracy first.</p>"
            f'<p class="note">{note}</p>'
            + _runs_table(s, rows, root="../", show_backbone=True, show_dataset=False))
    return s.page(f"Results: {dataset}", body, depth=1, section="results")


# --- docs ---------------------------------------------------------------------------------------------------


def _doc_link_resolver(s: _Site):
    def resolve(target: str) -> str | None:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
            return target
        path, _, frag = target.partition("#")
        norm = posixpath.normpath(path)
        if norm.endswith(".md") and "/" not in norm and norm[:-3] in s.docs:
            return norm[:-3] + ".html" + (f"#{frag}" if frag else "")
        return None

    return resolve


def _doc(s: _Site, d: dict[str, Any]) -> str:
    side = "".join(
        "<li>" + (f'<a href="{esc(x["name"])}.html" aria-current="page">' if x["name"] == d["name"]
                  else f'<a href="{esc(x["name"])}.html">') + f"{esc(x['title'])}</a></li>"
        for x in s.cat["docs"]
    )
    body = (f'<div class="docs-layout"><aside><strong>User guide</strong><ul>{side}</ul></aside>'
            f'<article class="prose">{markdown_to_html(d["text"], resolve_link=_doc_link_resolver(s))}</article></div>')
    return s.page(d["title"], body, depth=1, section="docs")


def _docs_index(s: _Site) -> str:
    items = "".join(f"<li>{link(d['name'] + '.html', d['title'])}</li>" for d in s.cat["docs"])
    return s.page("User guide", f"<h1>User guide</h1><ul>{items}</ul>", depth=1, section="docs")


# --- the site ---------------------------------------------------------------------------------------------


def render_site(cat: dict[str, Any]) -> dict[str, str]:
    """Every page of the site: ``{path relative to the site root: text}``."""
    s = _Site(cat)
    files = {"assets/catalog.css": CSS, "index.html": _index(s)}
    for b in cat["backbones"]:
        files[f"backbones/{b['name']}.html"] = _backbone(s, b)
    files["components/index.html"] = _components_index(s)
    for c in cat["components"]:
        files[f"components/{c['slug']}.html"] = _component(s, c)
    files["plugins/index.html"] = _plugins_index(s)
    for p in cat["plugins"]:
        files[f"plugins/{p['slug']}.html"] = _plugin(s, p)
    files["results/index.html"] = _results_index(s)
    for ds, rows in cat["leaderboards"].items():
        files[f"results/{slug(ds)}.html"] = _leaderboard(s, ds, rows)
    for d in cat["docs"]:
        files[f"docs/{d['name']}.html"] = _doc(s, d)
    if cat["docs"] and "docs/index.html" not in files:
        files["docs/index.html"] = _docs_index(s)
    return files
