"""The site's own static files, added to Furo's: a small stylesheet and two scripts (no CDN).

``zoo-filter.js`` filters the backbone table (``backbones/index.html``) by the ``data-*``
attributes the page already holds, so the table works without JavaScript and the filters only
hide rows; initial values come from the query string (``?q=minilm&modality=text``).
``zoo-compare.js`` shows the runs ticked on ``results/compare.html`` side by side, from the JSON
the page embeds; the selection lives in the query string (``?runs=A,B``). Both write text with
``textContent`` only, never markup, and do nothing on pages without their elements.
"""

from __future__ import annotations

__all__ = ["STATIC_FILES"]

CSS = """\
.zoo-filters { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: .6rem 1rem;
  padding: .8rem; border: 1px solid var(--color-background-border); border-radius: 6px; margin: 1rem 0;
  background: var(--color-background-secondary); }
.zoo-filters label { display: flex; flex-direction: column; gap: .2rem; font-size: .8rem;
  color: var(--color-foreground-secondary); min-width: 0; }
.zoo-filters .zoo-search { grid-column: 1 / -1; }
.zoo-filters input, .zoo-filters select, .zoo-filters button { font: inherit; font-size: .9rem; padding: .3rem .45rem;
  color: var(--color-foreground-primary); background: var(--color-background-primary);
  border: 1px solid var(--color-background-border); border-radius: 4px; min-width: 0; }
.zoo-filters .zoo-range { display: flex; gap: .4rem; }
.zoo-filters .zoo-range input { width: 100%; }
.zoo-filters button { align-self: end; justify-self: start; cursor: pointer; }
.zoo-count, .zoo-empty { color: var(--color-foreground-secondary); }
table.zoo-table td:first-child { white-space: nowrap; }
table.zoo-table tr.zoo-diff td { background: var(--color-admonition-title-background--note, rgba(68,138,255,.1)); }
.zoo-pick ul { list-style: none; padding-left: 0; margin: .25rem 0; }
.zoo-pick li { overflow-wrap: anywhere; }
.zoo-pick { border: 1px solid var(--color-background-border); border-radius: 6px; }
article code.literal { overflow-wrap: anywhere; }
article img { max-width: 100%; height: auto; }
"""

FILTER_JS = """\
(function () {
  "use strict";
  var table = document.querySelector("table#backbones.zoo-table");
  if (!table) { return; }  // another page (a guide page may have a "backbones" heading)
  var ids = ["q", "modality", "license", "architecture", "integrity", "pmin", "pmax"];
  var el = {};
  ids.forEach(function (id) { el[id] = document.getElementById(id); });
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
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

COMPARE_JS = """\
(function () {
  "use strict";
  var source = document.getElementById("zoo-runs");
  if (!source) { return; }
  var runs = JSON.parse(source.textContent);
  var byId = {};
  runs.forEach(function (r) { byId[r.id] = r; });
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=run]"));
  var table = document.getElementById("zoo-compare");
  var hint = document.getElementById("zoo-compare-hint");
  var wanted = (new URLSearchParams(window.location.search).get("runs") || "").split(",");
  boxes.forEach(function (b) {
    b.checked = wanted.indexOf(b.value) !== -1;
    b.addEventListener("change", render);
  });

  function text(v) {
    if (v === null || v === undefined || v === "") { return ""; }
    if (typeof v === "object") {
      return Object.keys(v).sort().map(function (k) { return k + " = " + v[k]; }).join(", ");
    }
    return String(v);
  }

  function row(label, values, isHeader) {
    var tr = document.createElement("tr");
    var th = document.createElement("th");
    th.textContent = label;
    tr.appendChild(th);
    values.forEach(function (v) {
      var td = document.createElement(isHeader ? "th" : "td");
      if (v && v.href) {
        var a = document.createElement("a");
        a.href = v.href;
        a.textContent = v.text;
        td.appendChild(a);
      } else {
        td.textContent = text(v);
      }
      tr.appendChild(td);
    });
    var plain = values.map(function (v) { return v && v.href ? v.text : text(v); });
    if (!isHeader && plain.some(function (v) { return v !== plain[0]; })) { tr.className = "zoo-diff"; }
    return tr;
  }

  function render() {
    var picked = boxes.filter(function (b) { return b.checked; }).map(function (b) { return byId[b.value]; });
    var ids = picked.map(function (r) { return r.id; });
    if (window.history && window.history.replaceState) {
      var url = window.location.pathname + (ids.length ? "?runs=" + ids.map(encodeURIComponent).join(",") : "");
      try { window.history.replaceState(null, "", url); } catch (e) { /* file:// in some browsers */ }
    }
    while (table.firstChild) { table.removeChild(table.firstChild); }
    table.hidden = picked.length < 2;
    hint.hidden = picked.length >= 2;
    if (picked.length < 2) { return; }
    var head = document.createElement("thead");
    head.appendChild(row("Run", picked.map(function (r) { return {href: r.href, text: r.id}; }), true));
    table.appendChild(head);
    var body = document.createElement("tbody");
    var fields = [["Recipe", "recipe"], ["Backbone", "backbone"], ["Task", "task"], ["Finished (UTC)", "created"],
                  ["Seed", "seed"], ["Data subset", "subset"], ["Reproduces", "reproduces"]];
    fields.forEach(function (f) {
      body.appendChild(row(f[0], picked.map(function (r) { return r[f[1]]; })));
    });
    var keys = {};
    picked.forEach(function (r) {
      Object.keys(r.metrics).forEach(function (ev) {
        Object.keys(r.metrics[ev]).forEach(function (k) { keys[ev + "\\u0000" + k] = [ev, k]; });
      });
    });
    Object.keys(keys).sort().forEach(function (key) {
      var ev = keys[key][0], k = keys[key][1];
      body.appendChild(row((ev ? ev + ": " : "") + k, picked.map(function (r) {
        return (r.metrics[ev] || {})[k];
      })));
    });
    var evs = {};
    picked.forEach(function (r) { Object.keys(r.evaluators).forEach(function (ev) { evs[ev] = true; }); });
    Object.keys(evs).sort().forEach(function (ev) {
      body.appendChild(row(ev + ": options", picked.map(function (r) { return r.evaluators[ev]; })));
    });
    table.appendChild(body);
  }

  render();
})();
"""

FAVICON = """\
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f5fbf"/>
<path d="M9 10h14L9 22h14" fill="none" stroke="#fff" stroke-width="3" stroke-linejoin="round"/></svg>
"""

STATIC_FILES: dict[str, str] = {"zoo.css": CSS, "zoo-filter.js": FILTER_JS, "zoo-compare.js": COMPARE_JS,
                                "favicon.svg": FAVICON}
"""``_static/NAME: text`` of the files the site adds to the theme's."""
