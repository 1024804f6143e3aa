"""Write the collected catalog (:func:`zoo.catalog.collect_catalog`) as MyST Markdown pages for Sphinx.

:func:`render_sources` is a pure function: data in, ``{path relative to the Sphinx source
folder: text or bytes}`` out. Pages:

- ``index.md``: the landing page and the site's table of contents;
- ``guide/*.md``: the user guide (``docs/``), as written;
- ``api/index.md``: the API reference, generated from docstrings by autodoc;
- ``backbones/index.md`` (filterable table) and ``backbones/NAME.md``;
- ``components/index.md`` and ``components/KIND.NAME.md``: the options reference;
- ``plugins/index.md`` and ``plugins/NAME.md``;
- ``results/index.md``, ``results/TASK.md`` (leaderboards by task and protocol) and
  ``results/compare.md`` (runs side by side);
- ``runs/RUN.md``: one page per run, with its plots (``runs/RUN/*.svg``, when matplotlib is there).

Every value from the registry, a plugin or a run record goes through :mod:`zoo.catalog.markup`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from . import markup as m
from .collect import slug
from .snippets import RECIPE_TABLES, cli_snippet, component_toml, python_snippet, recipe_snippet, toml_value

__all__ = ["render_sources", "API_MODULES", "KIND_TITLES"]

KIND_TITLES = {
    "architecture": "Architectures", "head": "Heads", "freezing": "Freezing policies",
    "compression": "Compression passes", "evaluator": "Evaluators", "dataset": "Datasets",
    "command": "Commands",
}

API_MODULES: tuple[tuple[str, str], ...] = (
    ("zoo.registry", "The registry: list, inspect and resolve pinned backbones."),
    ("zoo.builder", "Build a backbone from the registry (every file's sha256 checked)."),
    ("zoo.plugins", "The plugin manager and the components plugins contribute."),
    ("zoo.hookspecs", "Every hook a plugin can implement."),
    ("zoo.contracts", "What components return: the contracts the conformance kit checks."),
    ("zoo.errors", "Every error transferzoo raises."),
    ("zoo.hub", "The local Hub cache, the lock file and offline imports."),
    ("zoo.runner", "Recipes, runs, records and reproductions."),
    ("zoo.plots", "Report plots."),
    ("zoo.catalog", "This site: collect, generate, build and serve."),
)
"""Modules of the API reference, each with a one-line summary."""


def _directive(name: str, body: str = "", *, arg: str = "", options: dict[str, str] | None = None) -> str:
    lines = "".join(f":{k}: {v}\n" for k, v in (options or {}).items())
    inner = lines + ("\n" if lines and body else "") + body.rstrip("\n")
    ticks = "`" * max(3, max((len(r) for r in inner.split("\n") if set(r) == {"`"}), default=0) + 1)
    return f"{ticks}{{{name}}}{(' ' + arg) if arg else ''}\n{inner}\n{ticks}\n"


def _toctree(entries: list[str], *, caption: str = "", hidden: bool = False, maxdepth: int = 1) -> str:
    opts = {"maxdepth": str(maxdepth)}
    if caption:
        opts["caption"] = caption
    if hidden:
        opts["hidden"] = ""
    return _directive("toctree", "\n".join(entries), options=opts) if entries else ""


def _raw_html(html: str) -> str:
    return _directive("raw", html, arg="html")


def _page(title: str, *parts: str, orphan: bool = False) -> str:
    """A page; an ``orphan`` is reached by links only, not listed in the navigation (which Furo
    renders into every page: listing every backbone, component and run there would make the
    build quadratic in the number of pages)."""
    front = "---\norphan: true\n---\n\n" if orphan else ""
    return front + f"# {m.text(title)}\n\n" + "\n".join(p.rstrip("\n") + "\n" for p in parts if p)


def _kv(rows: list[tuple[str, str]]) -> str:
    return m.table(["Field", "Value"], [[m.text(k), v] for k, v in rows])


class _Site:
    """Cross-references between pages, computed once per build."""

    def __init__(self, cat: dict[str, Any]):
        self.cat = cat
        self.backbones = {b["name"]: b for b in cat["backbones"]}
        self.components = {(c["kind"], c["name"]): c for c in cat["components"]}
        self.plugins = {p["name"]: p for p in cat["plugins"]}
        self.runs = {r["run_id"]: r for r in cat["runs"]}

    def backbone(self, name: str, root: str = "../") -> str:
        if name in self.backbones:
            return f"[{m.text(name)}]({root}backbones/{slug(name)}.md)"
        return m.text(name) if name else "unknown"

    def component(self, kind: str, name: str, root: str = "../") -> str:
        comp = self.components.get((kind, name))
        return f"[{m.text(name)}]({root}components/{comp['slug']}.md)" if comp else m.text(name)

    def plugin(self, name: str, root: str = "../") -> str:
        return f"[{m.text(name)}]({root}plugins/{slug(name)}.md)" if name in self.plugins else m.text(name)

    def run(self, run_id: str, root: str = "../", label: str | None = None) -> str:
        if run_id in self.runs:
            return f"[{m.text(label or run_id)}]({root}runs/{slug(run_id)}.md)"
        return m.code(run_id)


# --- landing page and guide ---------------------------------------------------------------------------


def _index(s: _Site, guide: list[str], has_api: bool) -> str:
    c = s.cat
    intro = (f"Pinned, verified pretrained backbones and reproducible transfer experiments. This site "
             f"(transferzoo {m.text(c.get('version', ''))}, built by `zoo catalog build`) holds the user guide, "
             f"the API reference and a catalog of {len(c['backbones'])} backbones, {len(c['components'])} "
             f"components, {len(c['plugins'])} plugins and {len(c['runs'])} runs. Use the search box to find "
             "any of them.")
    return _page(
        "transferzoo",
        intro,
        "- [Backbones](backbones/index.md): every registered backbone, filterable\n"
        "- [Components](components/index.md): what plugins contribute, with their options\n"
        "- [Plugins](plugins/index.md): builtins and installed plugins\n"
        "- [Results](results/index.md): leaderboards by task and protocol, run pages and comparisons\n"
        + ("- [User guide](guide/index.md)\n" if "guide/index" in guide else "")
        + ("- [API reference](api/index.md)\n" if has_api else ""),
        _toctree(guide, caption="User guide"),
        _toctree(["backbones/index", "components/index", "plugins/index", "results/index"], caption="Catalog"),
        _toctree(["api/index"], caption="Reference") if has_api else "",
    )


def _api(modules: tuple[tuple[str, str], ...]) -> str:
    parts = ["Generated from the docstrings of the installed `zoo` package by Sphinx autodoc."]
    for mod, summary in modules:
        parts.append(f"## `{mod}`\n\n{summary}\n\n"
                     + _directive("eval-rst", f".. automodule:: {mod}\n   :members:\n"))
    return _page("API reference", *parts)


# --- backbones ----------------------------------------------------------------------------------------


def _backbones_index(s: _Site) -> str:
    bbs = s.cat["backbones"]

    def select(field: str, label: str, values: set[str]) -> str:
        opts = "".join(f'<option value="{m.esc(v)}">{m.esc(v)}</option>' for v in sorted(values))
        return f'<label>{m.esc(label)}<select id="{field}"><option value="">any</option>{opts}</select></label>'

    rows = []
    for b in bbs:
        search = " ".join([b["name"], b["description"], b["repo_id"], b["architecture"], *b["tags"]]).lower()
        data = " ".join(f'data-{k}="{m.esc(v)}"' for k, v in (
            ("name", b["name"]), ("modality", b["modality"]), ("license", b["license"]),
            ("architecture", b["architecture"]), ("integrity", b["integrity"]),
            ("params", b["num_params"]), ("search", search)))
        cells = [f'<a href="{m.esc(slug(b["name"]))}.html">{m.esc(b["name"])}</a>', m.esc(b["modality"]),
                 m.esc(b["architecture"]), m.esc(m.fmt_params(b["num_params"])), m.esc(b["embedding_dim"]),
                 m.esc(b["license"]), m.esc(b["integrity"]), m.esc(b["description"])]
        rows.append(f"<tr {data}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("Name", "Modality", "Architecture", "Params", "Dim", "Licence",
                                              "Hashes", "Description"))
    html = (
        '<form class="zoo-filters" role="search" onsubmit="return false">'
        '<label class="zoo-search">Filter names, descriptions and tags'
        '<input id="q" type="search" placeholder="e.g. minilm, retrieval" autocomplete="off"></label>'
        + select("modality", "Modality", {b["modality"] for b in bbs})
        + select("license", "Licence", {b["license"] for b in bbs})
        + select("architecture", "Architecture", {b["architecture"] for b in bbs})
        + '<label>Hashes<select id="integrity"><option value="">any</option>'
          '<option value="verified">verified</option><option value="tofu">trust on first use</option></select></label>'
        + '<label>Parameters (millions)<span class="zoo-range">'
          '<input id="pmin" type="number" min="0" step="any" placeholder="min" aria-label="minimum parameters">'
          '<input id="pmax" type="number" min="0" step="any" placeholder="max" aria-label="maximum parameters">'
          "</span></label>"
        + '<button id="reset" type="button">Reset</button></form>\n'
        f'<p class="zoo-count" id="count" aria-live="polite">{len(bbs)} of {len(bbs)} backbones</p>\n'
        f'<div class="table-wrapper"><table id="backbones" class="zoo-table"><thead><tr>{head}</tr></thead><tbody>\n'
        + "\n".join(rows) + "\n</tbody></table></div>\n"
        '<p class="zoo-empty" id="empty" hidden>No backbone matches these filters.</p>'
    )
    return _page(
        "Backbones",
        f"{len(bbs)} pretrained backbones, each pinned to a commit with the sha256 of its files. Filter the "
        "table below; the site-wide search box also finds them.",
        _raw_html(html),
    )


def _metric_rows(s: _Site, rows: list[dict[str, Any]], *, root: str, rank: bool, show_backbone: bool,
                 task: Callable[[dict[str, Any]], str] | None = None) -> str:
    header = (["Rank"] if rank else []) + (["Task"] if task else []) + (["Backbone"] if show_backbone else []) \
        + ["Evaluator", "Accuracy", "95% CI", "Macro F1", "95% CI", "Data", "Run", "Date (UTC)"]
    out = []
    for i, r in enumerate(rows, 1):
        mt = r["metrics"]
        cells = [str(i)] if rank else []
        if task:
            cells.append(task(r))
        if show_backbone:
            cells.append(s.backbone(r["backbone"], root))
        subset = ", ".join(f"{k} = {v}" for k, v in r["subset"].items())
        cells += [
            s.component("evaluator", r["evaluator"].split(".")[0], root) if r["evaluator"] else "",
            m.text(m.fmt_metric("accuracy", mt.get("accuracy"))),
            m.text(m.fmt_metric("ci95", mt.get("accuracy_ci95", mt.get("ci95")), scale_as="accuracy")),
            m.text(m.fmt_metric("macro_f1", mt.get("macro_f1"))),
            m.text(m.fmt_metric("ci95", mt.get("macro_f1_ci95"), scale_as="macro_f1")),
            ("**subset** " + m.text(subset)) if subset else "full",
            s.run(r["run_id"], root),
            m.text(r["created_utc"]),
        ]
        out.append(cells)
    return m.table(header, out)


def _backbone(s: _Site, b: dict[str, Any]) -> str:
    name = b["name"]
    inp = ", ".join(f"{k} = {toml_value(v)}" for k, v in b["input"].items())
    meta = _kv([
        ("Hub repo", m.code(b["repo_id"])),
        ("Pinned commit", m.code(b["revision"]) + " (" + m.external("files at this commit on the Hub", b["hub_url"]) + ")"),
        ("Architecture", s.component("architecture", b["architecture"])),
        ("Modality", m.text(b["modality"])),
        ("Parameters", m.text(f"{m.fmt_params(b['num_params'])} ({b['num_params']:,})")),
        ("Embedding size", m.text(b["embedding_dim"])),
        ("Pooling", m.text(b["pooling"]) + (", L2-normalized" if b["normalize"] else "")),
        ("Input", m.code(inp) if inp else "defaults"),
        ("Licence", m.text(b["license"])),
        ("Tags", ", ".join(m.code(t) for t in b["tags"]) or "none"),
        ("Paper", m.external(b["paper"], b["paper"]) if b["paper"] else "none"),
        ("Defined in", m.code(b["source"])),
    ])
    if b["integrity"] == "verified":
        note = "These hashes were verified by the registry's authors; every file is checked before it loads."
    else:
        note = ("Trust on first use: each file's sha256 is recorded in the lock file on first download "
                "(`zoo pull`) and every later download is checked against it.")
    files = m.table(["File", "sha256"], [[m.code(f["filename"]), m.code(f["sha256"]) if f["sha256"]
                                          else "recorded on first download"] for f in b["files"]])
    refs = m.table(["Task", "Metric", "Value", "Protocol", "Source"], [
        [m.text(r["task"]), m.text(r["metric"]), m.text(r["value"]), m.text(r["protocol"]),
         m.external(r["source"], r["source"])] for r in b["references"]
    ]) if b["references"] else "No published result is recorded for this backbone."
    measured = [dict(row, task=board["task"]) for board in s.cat["leaderboards"] for row in board["rows"]
                if row["backbone"] == name]
    measured_md = _metric_rows(s, measured, root="../", rank=False, show_backbone=False,
                               task=lambda r: f"[{m.text(r['task'])}](../results/{slug(r['task'])}.md)") \
        if measured else ("No run of this backbone was collected. Run a recipe with `zoo run`, then "
                          "`zoo catalog build --runs RUNS_DIR`.")
    return _page(
        name,
        f"**{m.text(b['modality'])}** · {m.text(b['license'])} · hashes: **{m.text(b['integrity'])}** · "
        f"{m.text(m.fmt_params(b['num_params']))} parameters",
        m.text(b["description"]),
        "## Metadata", meta,
        "## Files", note, files,
        "## Published reference results", refs,
        "## Measured results", measured_md,
        "## Usage", "### Python", m.fence(python_snippet(name), "python"),
        "### Command line", m.fence(cli_snippet(name), "bash"),
        "### Recipe", m.fence(recipe_snippet(name, b["modality"]), "toml"),
        "Recipes are run with `zoo run RECIPE`; the other tables are listed on "
        "[the components page](../components/index.md).",
        orphan=True,
    )


# --- components and plugins ---------------------------------------------------------------------------


def _components_index(s: _Site) -> str:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for c in s.cat["components"]:
        by_kind.setdefault(c["kind"], []).append(c)
    parts = ["What plugins contribute, by kind. Each page lists the options a recipe can set."]
    for kind, comps in by_kind.items():
        parts.append(f"## {m.text(KIND_TITLES.get(kind, kind))}")
        parts.append(m.table(["Name", "Summary", "Options", "Plugin"], [
            [f"[{m.text(c['name'])}]({c['slug']}.md)", m.text(c["summary"]), str(len(c["options"]) or ""),
             s.plugin(c["plugin"])] for c in comps]))
    if not by_kind:
        parts.append("No component is registered.")
    return _page("Components", *parts)


def _options_table(options: list[dict[str, Any]]) -> str:
    if not options:
        return "This component takes no options."
    return m.table(["Option", "Type", "Default", "Help"], [
        [m.code(o["name"]), m.code(o["type"]), m.code(m.fmt_default(o["default"])), m.text(o["help"])]
        for o in options])


def _component(s: _Site, c: dict[str, Any]) -> str:
    kind, name = c["kind"], c["name"]
    origin = s.plugin(c["plugin"])
    if c["distribution"]:
        origin += f" (distribution {m.code(c['distribution'])} {m.text(c['version'] or '')})"
    parts = [f"**{m.text(kind)}** · {m.text(c['summary'])}",
             _kv([("Kind", m.text(kind)), ("Plugin", origin),
                  ("Options class", m.code(c["options_class"]) if c["options_class"] else "none")])]
    if c["doc"] and c["doc"].strip() != c["summary"].strip():
        parts += ["## Description", m.fence(c["doc"], "text")]
    if kind != "command":
        parts += ["## Options", _options_table(c["options"])]
    if kind in RECIPE_TABLES:
        parts += ["## In a recipe", m.fence(component_toml(kind, name, c["options"]), "toml")]
    elif kind == "architecture":
        users = [b for b in s.cat["backbones"] if b["architecture"] == name]
        parts += ["## In the registry", f"Registry entries select it with {m.code('architecture = ' + toml_value(name))}.",
                  "### Backbones using it",
                  "\n".join(f"- {s.backbone(b['name'])}" for b in users) or "No registered backbone uses it."]
    elif kind == "command":
        parts += ["## Usage", m.fence(f"zoo {name} --help\n", "bash")]
    return _page(f"{name} ({kind})", *parts, orphan=True)


def _plugins_index(s: _Site) -> str:
    rows = []
    for p in s.cat["plugins"]:
        status = "**failed**" if p["error"] else ("builtin" if p["builtin"] else "installed")
        count = sum(len(v) for v in p["components"].values())
        rows.append([f"[{m.text(p['name'])}]({p['slug']}.md)", status, m.text(p["distribution"] or ""),
                     m.text(p["version"] or ""), str(count), ", ".join(m.code(h) for h in p["hooks"])])
    return _page("Plugins",
                 "Builtins and installed plugins, loaded the same way. `zoo plugins list` shows the same on the "
                 "command line.",
                 m.table(["Plugin", "Status", "Distribution", "Version", "Components", "Hooks"], rows),
                 )


def _plugin(s: _Site, p: dict[str, Any]) -> str:
    parts = [_kv([("Distribution", m.text(p["distribution"] or "none (registered in memory)")),
                  ("Version", m.text(p["version"] or "unknown")),
                  ("Builtin", "yes" if p["builtin"] else "no"),
                  ("Hooks", ", ".join(m.code(h) for h in p["hooks"]) or "none")])]
    if p["error"]:
        parts += ["## Load error", m.fence(p["error"], "text"), "Run `zoo plugins doctor` for the traceback."]
    for kind, names in p["components"].items():
        parts += [f"## {m.text(KIND_TITLES.get(kind, kind))}",
                  "\n".join(f"- {s.component(kind, n)}: {m.text(s.components.get((kind, n), {}).get('summary', ''))}"
                            for n in names)]
    return _page(p["name"], *parts, orphan=True)


# --- results, runs and comparison ------------------------------------------------------------------------


def _options_text(options: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {toml_value(v)}" for k, v in sorted(options.items())) or "defaults"


def _results_index(s: _Site) -> str:
    boards = s.cat["leaderboards"]
    if not boards:
        return _page("Results", "No run records were collected. Run a recipe with `zoo run`, then build the catalog "
                                "with `zoo catalog build --runs RUNS_DIR`.",
                     _toctree(["compare"], hidden=True))
    tasks: dict[str, list[dict[str, Any]]] = {}
    for b in boards:
        tasks.setdefault(b["task"], []).append(b)
    rows = []
    for task, tboards in tasks.items():
        runs = {r["run_id"] for b in tboards for r in b["rows"]}
        best = max((b["rows"][0] for b in tboards if isinstance(b["rows"][0]["metrics"].get("accuracy"), (int, float))),
                   key=lambda r: r["metrics"]["accuracy"], default=None)
        rows.append([f"[{m.text(task)}]({slug(task)}.md)", str(len(tboards)), str(len(runs)),
                     s.backbone(best["backbone"]) if best else "",
                     m.text(m.fmt_metric("accuracy", best["metrics"].get("accuracy"))) if best else ""])
    reproductions = sum(1 for r in s.cat["runs"] if r["reproduces"])
    return _page(
        "Results",
        f"Leaderboards from {len(s.cat['runs'])} run record(s), one per task and protocol (the evaluator and its "
        f"options). Reproductions ({reproductions}) are shown on their original run's page, never ranked. "
        "Runs on a subset of the data (`max_train`, `max_test`, ...) are marked. "
        "[Compare runs side by side](compare.md).",
        m.table(["Task", "Leaderboards", "Runs", "Best backbone", "Best accuracy"], rows),
        _toctree([slug(t) for t in tasks] + ["compare"], hidden=True),
    )


def _task(s: _Site, task: str, boards: list[dict[str, Any]]) -> str:
    parts = [f"{len(boards)} leaderboard(s) on this task, best accuracy first. Reproductions are not ranked; "
             "runs on a subset of the data are marked in the *Data* column."]
    for b in boards:
        ev = b["evaluator"] or "(unnamed evaluator)"
        proto = f" · {b['protocol']}" if b["protocol"] else ""
        parts.append(f"## {m.text(ev + proto)}")
        parts.append(f"Evaluator {s.component('evaluator', b['evaluator'])}, options: "
                     f"{m.code(_options_text(b['options']))}.")
        prints = sorted({r["fingerprint"] for r in b["rows"] if r["fingerprint"]})
        if len(prints) > 1:
            parts.append("These runs did not all see the same data (several dataset fingerprints).")
        parts.append(_metric_rows(s, b["rows"], root="../", rank=True, show_backbone=True))
        ids = ",".join(r["run_id"] for r in b["rows"][:4])
        if len(b["rows"]) > 1:
            parts.append(_raw_html(f'<p><a class="zoo-compare-link" href="compare.html?runs={m.esc(_q(ids))}">'
                                   "Compare these runs side by side</a></p>"))
    return _page(f"Results: {task}", *parts)


def _q(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe=",")


def _recipe_with_defaults(resolved: dict[str, Any], defaults: dict[str, Any]) -> str:
    """The resolved recipe as TOML; keys it left at their default are shown too, marked ``# default``.

    ``defaults`` maps a table path (``""``, ``"data"``, ``"data.options"``, ``"evaluators.0.options"``)
    to that table's default values.
    """
    lines: list[str] = []

    def is_array(v: Any) -> bool:
        return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)

    def emit(table: dict[str, Any], path: str, header: str | None) -> None:
        dflt = defaults.get(path, {})
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict) and not is_array(v)}
        extra = {k: v for k, v in dflt.items() if k not in table and not isinstance(v, dict)}
        if header and (scalars or extra or path.count(".") == 0):
            lines.extend(["", header])
        lines.extend(f"{_key(k)} = {toml_value(v)}" for k, v in scalars.items())
        for k, v in sorted(extra.items()):
            lines.append(f"{_key(k)} = {toml_value(v)}   # default" if v is not None else f"# {_key(k)}: none   # default")

    emit(resolved, "", None)
    tables = [k for k, v in resolved.items() if isinstance(v, dict)]
    tables += [k for k in defaults if k and "." not in k and k not in resolved]
    for key in tables:
        value = resolved.get(key, {})
        emit(value, key, f"[{_key(key)}]")
        subs = [k for k, v in value.items() if isinstance(v, dict)]
        subs += [p.split(".", 1)[1] for p in defaults if p.startswith(key + ".") and p.count(".") == 1
                 and p.split(".", 1)[1] not in value]
        for sub in subs:
            emit(value.get(sub, {}), f"{key}.{sub}", f"[{_key(key)}.{_key(sub)}]")
    for key, value in resolved.items():
        if is_array(value):
            for i, item in enumerate(value):
                lines += ["", f"[[{_key(key)}]]"]
                lines.extend(f"{_key(k)} = {toml_value(v)}" for k, v in item.items() if not isinstance(v, dict))
                options = item.get("options") if isinstance(item.get("options"), dict) else {}
                emit(options, f"{key}.{i}.options", f"[{_key(key)}.options]")
    return "\n".join(lines).strip("\n") + "\n"


def _key(k: str) -> str:
    from .._toml import key

    return key(k)


def _run(s: _Site, r: dict[str, Any], plots: dict[str, list[str]], defaults: dict[str, Any]) -> str:
    """One run's page."""
    b, d = r["backbone"], r["dataset"]
    parts = []
    summary = [("Recipe", m.text(r["recipe"])), ("Status", m.text(r["status"] or "complete")),
               ("Finished (UTC)", m.text(r["created_utc"])), ("Backbone", s.backbone(b["name"])),
               ("Task (dataset)", f"[{m.text(d['name'])}](../results/{slug(d['name'])}.md)" if not r["reproduces"]
                else m.text(d["name"])),
               ("Seed", m.text(r["seed"])), ("Device", m.text(r["device"]))]
    if r["description"]:
        parts.append(m.text(r["description"]))
    if r["subset"]:
        parts.append(_directive("note", "This run used a subset of the data: "
                                + m.text(", ".join(f"{k} = {v}" for k, v in r["subset"].items()))
                                + ". Its metrics are not comparable with full-data runs."))
    if r["reproduces"]:
        parts.append(_directive("note", f"This run is a reproduction (`zoo reproduce`) of {s.run(r['reproduces'])}; "
                                        "it is not ranked on the leaderboards."))
    parts.append(_kv(summary))
    parts.append("## Metrics")
    rows = []
    for key, mt in r["metrics"].items():
        ev = r["evaluators"].get(key, {})
        other = ", ".join(f"{k} = {m.fmt_metric(k, v)}" for k, v in mt.items()
                          if k not in ("accuracy", "macro_f1", "accuracy_ci95", "macro_f1_ci95", "ci95")
                          and (m.is_number(v) or isinstance(v, str)))
        rows.append([m.text(key), m.text(ev.get("protocol", "")),
                     m.text(m.fmt_metric("accuracy", mt.get("accuracy"))),
                     m.text(m.fmt_metric("ci95", mt.get("accuracy_ci95", mt.get("ci95")), scale_as="accuracy")),
                     m.text(m.fmt_metric("macro_f1", mt.get("macro_f1"))),
                     m.text(m.fmt_metric("ci95", mt.get("macro_f1_ci95"), scale_as="macro_f1")),
                     m.text(other)])
    parts.append(m.table(["Evaluator", "Protocol", "Accuracy", "95% CI", "Macro F1", "95% CI", "Other"], rows)
                 if rows else "This record has no metrics.")
    evs = [(k, v) for k, v in r["evaluators"].items() if k != "head"]
    if evs:
        parts.append("### Evaluator options")
        parts.append(m.table(["Evaluator", "Component", "Options"], [
            [m.text(k), s.component("evaluator", v["name"]), m.code(_options_text(v["options"]))] for k, v in evs]))
    parts.append("## Report")
    report = [line for section in ("learning_curve", "confusion", "tradeoffs") for line in plots.get(section, [])]
    parts.append("\n".join(report) if report else
                 "No plot: the record has no training history or confusion matrix"
                 + ("" if plots.get("_can_draw") else ", or matplotlib is not installed (`pip install "
                                                     "\"transferzoo[catalog]\"`)") + ".")
    parts.append("## Resolved recipe")
    parts.append("The recipe as it ran (overrides applied); keys it left at their default are shown with "
                 "`# default`." + (f" Overrides: {m.code(' '.join(r['overrides']))}." if r["overrides"] else ""))
    parts.append(m.fence(_recipe_with_defaults(r["resolved"], defaults), "toml") if r["resolved"]
                 else "The record does not hold the resolved recipe.")
    parts.append("## Lineage")
    parts.append(_kv([("Backbone", s.backbone(b["name"])), ("Hub repo", m.code(b["repo_id"])),
                      ("Commit", m.code(b["revision"])), ("Weights digest", m.code(b["weights_digest"]))]))
    if b["files"]:
        parts.append(m.table(["Backbone file", "sha256"], [[m.code(k), m.code(v)] for k, v in b["files"].items()]))
    parts.append(_kv([("Loader", m.code(d["loader"])), ("Fingerprint", m.code(d["fingerprint"])),
                      ("Classes", m.text(d["num_classes"] or "")),
                      ("Examples used", m.text(", ".join(f"{k} {v.get('n', '?')}" for k, v in d["used"].items())))]))
    if d["files"]:
        parts.append(m.table(["Data file", "Role", "sha256", "Bytes"], [
            [m.code(f["path"]), m.text(f["role"]), m.code(f["sha256"]), m.text(f["size"] if f["size"] is not None else "")]
            for f in d["files"]]))
    parts.append("## Environment")
    env = r["environment"]
    parts.append(_kv([(k, m.text(v)) for k, v in env.items()]) if env else "The record has no environment.")
    parts.append("## Plugins")
    parts.append(m.table(["Plugin", "Distribution", "Version"], [
        [s.plugin(p.get("name", "")), m.text(p.get("distribution") or ""), m.text(p.get("version") or "")]
        for p in r["plugins"]]) if r["plugins"] else "The record lists no plugins.")
    if r["components"]:
        parts.append(m.table(["Part", "Component", "Plugin", "Version"], [
            [m.text(k), m.text(v.get("name", "")), s.plugin(v.get("plugin", "")), m.text(v.get("version") or "")]
            for k, v in r["components"].items()]))
    parts.append("## Reproductions")
    if r["reproductions"]:
        parts.append("\n".join(f"- {s.run(x)}" for x in r["reproductions"]))
    else:
        parts.append(f"None collected. Re-run it with {m.code('zoo reproduce ' + (r['dir'] or 'RUN_DIR'))}.")
    parts.append(_raw_html(f'<p><a class="zoo-compare-link" href="../results/compare.html?runs={m.esc(_q(r["run_id"]))}">'
                           "Compare this run with others</a></p>"))
    return _page(f"Run {r['run_id']}", *parts, orphan=True)


def _compare(s: _Site) -> str:
    data = []
    for r in s.cat["runs"]:
        data.append({
            "id": r["run_id"], "href": f"../runs/{slug(r['run_id'])}.html", "recipe": r["recipe"],
            "backbone": r["backbone"]["name"], "task": r["dataset"]["name"], "created": r["created_utc"],
            "seed": r["seed"], "subset": r["subset"], "reproduces": r["reproduces"],
            "metrics": {k: {mk: m.fmt_metric(mk if not mk.endswith("ci95") else "ci95", mv,
                                             scale_as=mk.replace("_ci95", "") if mk.endswith("ci95") else None)
                            for mk, mv in v.items()} for k, v in r["metrics"].items()},
            "evaluators": {k: _options_text(v["options"]) for k, v in r["evaluators"].items()},
        })
    payload = json.dumps(data, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    boxes = "".join(f'<li><label><input type="checkbox" name="run" value="{m.esc(r["run_id"])}"> '
                    f'{m.esc(r["run_id"])}</label></li>' for r in s.cat["runs"])
    html = (f'<script type="application/json" id="zoo-runs">{payload}</script>\n'
            f'<fieldset class="zoo-pick"><legend>Runs</legend><ul>{boxes}</ul></fieldset>\n'
            '<p id="zoo-compare-hint">Select two or more runs.</p>\n'
            '<div class="table-wrapper"><table id="zoo-compare" class="zoo-table" hidden></table></div>')
    return _page("Compare runs",
                 "Tick two or more runs to see them side by side: metrics with their intervals, evaluator "
                 "options, backbone, data and seed. Rows whose values differ are highlighted. The selection is "
                 "kept in the address (`compare.html?runs=A,B`), so a comparison can be shared.",
                 _raw_html(html) if s.cat["runs"] else "No run records were collected.")


# --- the source tree --------------------------------------------------------------------------------------


def render_sources(cat: dict[str, Any], *, plot_runs: Callable[[dict[str, Any]], tuple[dict[str, list[str]],
                                                                                     dict[str, bytes]]] | None = None,
                   recipe_defaults: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                   api_modules: tuple[tuple[str, str], ...] = API_MODULES) -> dict[str, str | bytes]:
    """Every source page of the site: ``{path relative to the Sphinx source folder: text or bytes}``.

    ``plot_runs(run)`` returns a run's report lines per section and its plot files (relative to
    ``runs/``); without it run pages have tables only. ``recipe_defaults(resolved)`` maps the
    recipe's tables (``""`` for the top level, ``"data.options"``, ``"evaluators.0.options"``) to
    their default values.
    """
    s = _Site(cat)
    files: dict[str, str | bytes] = {}
    guide = []
    for doc in cat["docs"]:
        files[f"guide/{doc['name']}.md"] = doc["text"]
        guide.append(f"guide/{doc['name']}")
    files["index.md"] = _index(s, guide, bool(api_modules))
    if api_modules:
        files["api/index.md"] = _api(api_modules)
    files["backbones/index.md"] = _backbones_index(s)
    for b in cat["backbones"]:
        files[f"backbones/{slug(b['name'])}.md"] = _backbone(s, b)
    files["components/index.md"] = _components_index(s)
    for c in cat["components"]:
        files[f"components/{c['slug']}.md"] = _component(s, c)
    files["plugins/index.md"] = _plugins_index(s)
    for p in cat["plugins"]:
        files[f"plugins/{p['slug']}.md"] = _plugin(s, p)
    files["results/index.md"] = _results_index(s)
    tasks: dict[str, list[dict[str, Any]]] = {}
    for board in cat["leaderboards"]:
        tasks.setdefault(board["task"], []).append(board)
    for task, boards in tasks.items():
        files[f"results/{slug(task)}.md"] = _task(s, task, boards)
    files["results/compare.md"] = _compare(s)
    run_pages = []
    for r in cat["runs"]:
        lines, images = plot_runs(r) if plot_runs else ({}, {})
        for rel, data in images.items():
            files[f"runs/{rel}"] = data
        files[f"runs/{slug(r['run_id'])}.md"] = _run(s, r, lines, recipe_defaults(r["resolved"]) if recipe_defaults else {})
        run_pages.append(f"runs/{slug(r['run_id'])}")
    if run_pages:
        files["runs/index.md"] = _page("Runs", "Every collected run, newest first.",
                                       "\n".join(f"- {s.run(r['run_id'], '../')}" for r in cat["runs"]))
        files["results/index.md"] += "\n" + _toctree(["../runs/index"], hidden=True)
    return files
