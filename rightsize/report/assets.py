"""The report page's fixed CSS, script and content policy (no data in here, so nothing to escape)."""

from __future__ import annotations

import base64
import hashlib

# Nothing may leave the file: no fetch, no image, no font from anywhere but the page itself. Only
# the page's own two scripts run, named by hash: an injected <script> or on*= handler would not.
# blob:/data: are what plotly uses for its PNG export.
CSP = (
    "default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
)


def csp(*scripts: str) -> str:
    """The policy allowing exactly these inline scripts (by their SHA-256)."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts
    )
    return CSP.format(scripts=hashes)


CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d1d1f; }
header, main { max-width: 1280px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 16px; border-bottom: 1px solid #ddd; }
h1 { font-size: 22px; margin: 8px 0; } h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 16px; margin: 0 0 6px; word-break: break-all; }
.meta { color: #555; margin: 4px 0 12px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.matrix td { white-space: nowrap; }
.matrix td.name { white-space: normal; word-break: break-all; max-width: 320px; }
.down { color: #1a7f37; } .up { color: #b35900; } .same { color: #555; } .none { color: #888; }
.warn { background: #fff8e1; border-left: 4px solid #f0a500; padding: 8px 12px; margin: 8px 0; }
.warn li { margin: 2px 0; }
.warn li, .meta { overflow-wrap: anywhere; }  /* a 500-character name must not widen the page */
.bad { color: #b00020; font-weight: 600; }
section.workload { border-top: 2px solid #e5e5e5; padding-top: 14px; margin-top: 26px; }
ul.reasons { margin: 4px 0 8px 18px; padding: 0; }
.plot { width: 100%; min-height: 330px; }
.plot.usage { min-height: 640px; }
.plot.failed { display: none; }
.nocharts { position: sticky; top: 0; z-index: 10; background: #fdecea; color: #8a1c12;
  border-bottom: 2px solid #d93025; padding: 10px 20px; font-weight: 600; }
.small { font-size: 12px; color: #666; }
details { margin: 0 0 12px; }
details pre { font-size: 12px; white-space: pre-wrap; background: #f7f7f9; padding: 8px; }
@media print { section.workload { break-before: page; } }
"""

# The page unpacks plotly.js and the figures (pack.py) with the browser's own gunzip, then draws
# plots when they come near the viewport: 1,000 plots at once would freeze the page. Printing draws
# them all first. plotly.js runs as an inline script the policy allows by its hash.
SCRIPT = """
(function () {
  "use strict";
  var config = {displaylogo: false, responsive: true};
  var plots = Array.prototype.slice.call(document.querySelectorAll("div.plot"));
  var TYPES = {f4: Float32Array, f8: Float64Array};
  var figure = null;
  function gunzip(id) {
    var text = atob(document.getElementById(id).textContent);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { bytes[i] = text.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer();
  }
  function copy(obj) { return JSON.parse(JSON.stringify(obj)); }
  function reader(buffer) {
    var size = new DataView(buffer).getUint32(0, true);
    var header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, size)));
    var base = 4 + size + (8 - (4 + size) % 8) % 8;
    function value(v) {
      return v && v.buf ? new TYPES[v.buf[0]](buffer, base + v.buf[1], v.buf[2]) : v;
    }
    return function (id) {
      var fig = header.figures[id];
      var data = fig.data.map(function (t) {
        var trace = copy(header.styles[t.style]);
        Object.keys(t).forEach(function (k) { if (k !== "style") { trace[k] = value(t[k]); } });
        return trace;
      });
      return {data: data, layout: copy(header.layouts[fig.layout])};
    };
  }
  var NEED = "The charts cannot be drawn in this browser: it has no DecompressionStream " +
    "(Chrome and Edge 80+, Firefox 113+ and Safari 16.4+ have it).";
  var ready = typeof DecompressionStream === "undefined"
    ? Promise.reject(new Error(NEED))
    : Promise.all([gunzip("rightsize-plotly"), gunzip("rightsize-data")]).then(function (parts) {
        var script = document.createElement("script");
        script.textContent = new TextDecoder().decode(parts[0]);
        document.head.appendChild(script);
        if (typeof Plotly === "undefined") { throw new Error("plotly.js did not run in this browser"); }
        figure = reader(parts[1]);
      });
  // One message for the page, kept in view, instead of an empty box (or a copy) per chart.
  ready.catch(function (e) {
    plots.forEach(function (el) { el.className += " failed"; });
    var note = document.createElement("div");
    note.className = "nocharts";
    note.setAttribute("role", "alert");
    var why = e.message === NEED ? NEED : "The charts could not be drawn (" + e.message + ").";
    note.textContent = why + " The tables and recommendations are complete without them.";
    document.body.insertBefore(note, document.body.firstChild);
  });
  function render(el) {
    if (!figure || el.getAttribute("data-rendered")) { return null; }
    el.setAttribute("data-rendered", "1");
    var fig = figure(el.getAttribute("data-spec"));
    return Plotly.newPlot(el, fig.data, fig.layout, config);
  }
  window.rightsizeRenderAll = function () {
    return ready.then(function () { return Promise.all(plots.map(render)); }).then(function () {});
  };
  window.addEventListener("beforeprint", function () { plots.forEach(render); });
  if (!("IntersectionObserver" in window)) { window.rightsizeRenderAll(); return; }
  var io = new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      if (e.isIntersecting) {
        io.unobserve(e.target);
        ready.then(function () { render(e.target); }, function () {});
      }
    });
  }, {rootMargin: "800px 0px"});
  plots.forEach(function (p) { io.observe(p); });
})();
"""

HOW_TO_READ = (
    '<details><summary>How to read this report</summary><p class="small">'
    "A <b>reservation</b> (Kubernetes: request) is what the scheduler sets aside for a container; a "
    "<b>limit</b> is where it is stopped: over its memory limit it is OOM-killed, over its CPU limit "
    "it is throttled, at its PIDs limit it cannot start a process. Green: less than now; orange: more "
    "than now. Charts keep each time bucket's lowest and highest sample, so every peak is drawn at "
    "its true height; drag to zoom, double-click to reset. Dashed red: what the containers ran "
    "with; solid green: the recommended limit; dotted green: the recommended reservation; grey "
    "dotted lines on the distributions: the percentiles of the history the recommendation used."
    "</p></details>"
)
