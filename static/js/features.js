// Draws one histogram per feature from the view page's json_script data (templates/features/view.html).
(function () {
  "use strict";
  var node = document.getElementById("feature-data");
  if (!node || typeof Plotly === "undefined") return;
  var data = JSON.parse(node.textContent);
  var config = { displaylogo: false, responsive: true };
  data.features.forEach(function (name) {
    var target = document.getElementById("hist-" + name);
    var h = data.histograms[name];
    if (!target || !h) return;
    if (!h.x.length) { target.textContent = "No values in the sample" + (h.nulls ? " (" + h.nulls + " null)" : "") + "."; return; }
    Plotly.newPlot(target, [{ type: "bar", x: h.x, y: h.y, marker: { color: "#5c6b8a" } }], {
      height: 240, margin: { t: 20, r: 10, b: 60, l: 45 },
      xaxis: { type: h.kind === "numeric" ? "linear" : "category" },
      yaxis: { title: { text: "rows" } },
      annotations: h.nulls ? [{ text: h.nulls + " null", xref: "paper", yref: "paper", x: 1, y: 1, showarrow: false }] : [],
    }, config);
  });
})();
