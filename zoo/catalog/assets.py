"""The catalog's stylesheet and the index page's search-and-filter script (no CDN, no build step).

The script is plain JavaScript embedded in ``index.html``: it reads ``data-*`` attributes of the
table rows that the server-side render already wrote, so the list works without JavaScript and
the filters only hide rows. Initial values come from the query string
(``index.html?q=minilm&modality=text``), which also works from ``file://``.
"""

from __future__ import annotations

__all__ = ["CSS", "INDEX_JS"]

CSS = """\
:root {
  --fg: #1d232b; --muted: #5b6573; --bg: #ffffff; --panel: #f5f7fa; --line: #dde2e8;
  --accent: #1f5fbf; --accent-bg: #e8f0fc; --ok: #1a7f37; --ok-bg: #e6f4ea; --warn: #8a5a00;
  --warn-bg: #fff4dc; --bad: #b42318; --bad-bg: #fdecea;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { font-size: 16px; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.55;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.site { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 2rem;
  padding: .75rem 2rem; border-bottom: 1px solid var(--line); background: var(--panel); }
header.site .brand { font-weight: 700; font-size: 1.15rem; color: var(--fg); }
header.site .brand span { font-weight: 400; color: var(--muted); }
header.site nav { display: flex; flex-wrap: wrap; gap: 1.25rem; }
header.site nav a { color: var(--muted); text-transform: capitalize; padding: .15rem 0; }
header.site nav a[aria-current="page"] { color: var(--fg); border-bottom: 2px solid var(--accent); }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 2rem 3rem; }
footer { max-width: 72rem; margin: 0 auto; padding: 1rem 2rem 2rem; color: var(--muted);
  font-size: .85rem; border-top: 1px solid var(--line); }
h1 { font-size: 1.8rem; margin: .5rem 0 .25rem; line-height: 1.25; }
h2 { font-size: 1.3rem; margin: 2rem 0 .6rem; padding-bottom: .25rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.08rem; margin: 1.5rem 0 .5rem; }
p.lead { color: var(--muted); font-size: 1.05rem; margin-top: .25rem; }
code { font-family: var(--mono); font-size: .88em; background: var(--panel); padding: .1em .3em;
  border-radius: 4px; }
pre { background: #0f1720; color: #e6edf3; padding: .9rem 1rem; border-radius: 6px; overflow-x: auto;
  line-height: 1.45; }
pre code { background: none; padding: 0; color: inherit; font-size: .86rem; }
.table-wrap { overflow-x: auto; margin: .5rem 0 1rem; }
table { border-collapse: collapse; width: 100%; font-size: .93rem; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); font-weight: 600; white-space: nowrap; }
tbody tr:hover { background: #fafbfd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td code.hash, .hash { font-family: var(--mono); font-size: .8rem; word-break: break-all; }
.badge { display: inline-block; font-size: .75rem; padding: .05rem .5rem; border-radius: 999px;
  background: var(--panel); border: 1px solid var(--line); color: var(--muted); white-space: nowrap; }
.badge.verified { background: var(--ok-bg); color: var(--ok); border-color: #b7dfc3; }
.badge.tofu { background: var(--warn-bg); color: var(--warn); border-color: #f0d9a8; }
.badge.error { background: var(--bad-bg); color: var(--bad); border-color: #f3c2bd; }
.badge.kind { background: var(--accent-bg); color: var(--accent); border-color: #c6d8f5; }
.badges { display: flex; flex-wrap: wrap; gap: .4rem; margin: .4rem 0 1rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1.25rem; margin: .5rem 0 1rem; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.filters { display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); gap: .75rem 1rem;
  padding: 1rem; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; margin: 1rem 0; }
.filters label { display: flex; flex-direction: column; gap: .2rem; font-size: .82rem; color: var(--muted); }
.filters .search { grid-column: 1 / -1; }
.filters input, .filters select { font: inherit; font-size: .95rem; padding: .35rem .5rem; color: var(--fg);
  border: 1px solid #c5ccd6; border-radius: 6px; background: #fff; }
.filters .range { display: flex; gap: .4rem; align-items: center; }
.filters .range input { width: 100%; }
.filters button { font: inherit; align-self: end; justify-self: start; padding: .35rem .8rem; border: 1px solid #c5ccd6;
  border-radius: 6px; background: #fff; cursor: pointer; }
.count { color: var(--muted); margin: .25rem 0; }
.empty { padding: 1rem; color: var(--muted); font-style: italic; }
.desc { color: var(--muted); }
#backbones td:first-child, #backbones td:nth-child(6) { white-space: nowrap; }
td:has(> .num) { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: var(--muted); font-size: .9rem; }
.doc { white-space: pre-wrap; background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
  padding: .75rem 1rem; font-size: .92rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: 1rem; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; }
.card h3 { margin: 0 0 .3rem; }
.docs-layout { display: grid; grid-template-columns: 13rem 1fr; gap: 2.5rem; }
.docs-layout aside ul { list-style: none; padding: 0; margin: .5rem 0; position: sticky; top: 1rem; }
.docs-layout aside li { margin: .2rem 0; }
.docs-layout aside a[aria-current="page"] { font-weight: 600; color: var(--fg); }
.prose { min-width: 0; }
.prose h1 { margin-top: 0; }
.prose blockquote { margin: 1rem 0; padding: .25rem 1rem; border-left: 4px solid var(--line); color: var(--muted); }
.dead-link { border-bottom: 1px dotted var(--muted); }
@media (max-width: 50rem) {
  main { padding: 1rem; }
  .docs-layout { grid-template-columns: 1fr; }
  header.site { padding: .75rem 1rem; }
}
"""

INDEX_JS = """\
(function () {
  "use strict";
  var ids = ["q", "modality", "license", "architecture", "integrity", "pmin", "pmax"];
  var el = {};
  ids.forEach(function (id) { el[id] = document.getElementById(id); });
  var rows = Array.prototype.slice.call(document.querySelectorAll("#backbones tbody tr"));
  var count = document.getElementById("count");
  var empty = document.getElementById("empty");

  function num(input) {
    var v = parseFloat(input.value);
    return isNaN(v) ? null : v;
  }

  function apply() {
    var words = el.q.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var pmin = num(el.pmin), pmax = num(el.pmax);
    var shown = 0;
    rows.forEach(function (tr) {
      var d = tr.dataset;
      var millions = Number(d.params) / 1e6;
      var ok = words.every(function (w) { return d.search.indexOf(w) !== -1; }) &&
        (!el.modality.value || d.modality === el.modality.value) &&
        (!el.license.value || d.license === el.license.value) &&
        (!el.architecture.value || d.architecture === el.architecture.value) &&
        (!el.integrity.value || d.integrity === el.integrity.value) &&
        (pmin === null || millions >= pmin) &&
        (pmax === null || millions <= pmax);
      tr.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " backbones";
    empty.hidden = shown !== 0;
  }

  var params = new URLSearchParams(window.location.search);
  ids.forEach(function (id) {
    if (params.has(id)) { el[id].value = params.get(id); }
    el[id].addEventListener("input", apply);
    el[id].addEventListener("change", apply);
  });
  document.getElementById("reset").addEventListener("click", function () {
    ids.forEach(function (id) { el[id].value = ""; });
    apply();
  });
  apply();
})();
"""
