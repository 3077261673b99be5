// Draws the champion-vs-challenger charts from the page's json_script data.
(function () {
  "use strict";
  var node = document.getElementById("comparison-data");
  if (!node || typeof Plotly === "undefined") return;
  var data = JSON.parse(node.textContent);
  var config = { displaylogo: false, responsive: true };
  var base = { margin: { t: 20, r: 10, b: 40, l: 50 }, height: 300 };
  var champName = "champion v" + (data.champion.version || "?");
  var challName = data.challenger.variant + " v" + (data.challenger.version || "?");

  function layout(extra) {
    var out = {};
    Object.keys(base).forEach(function (k) { out[k] = base[k]; });
    Object.keys(extra).forEach(function (k) { out[k] = extra[k]; });
    return out;
  }

  function empty(id, text) {
    var el = document.getElementById(id);
    el.textContent = text;
    el.className += " muted";
  }

  // Overlaid score histograms on common bins.
  var h = data.histograms;
  if (h.edges.length) {
    var centers = [], width = [];
    for (var i = 0; i + 1 < h.edges.length; i++) {
      centers.push((h.edges[i] + h.edges[i + 1]) / 2);
      width.push(h.edges[i + 1] - h.edges[i]);
    }
    // Shares, not counts: the variants answer different volumes (a 5 % canary's counts would
    // sit flat under the champion's), and the question is whether their scores are shaped alike.
    var shares = function (counts) {
      var total = counts.reduce(function (a, b) { return a + b; }, 0);
      return counts.map(function (c) { return total ? c / total : 0; });
    };
    var hover = "%{x:.3g}: %{y:.1%} of its predictions (%{customdata})<extra>%{fullData.name}</extra>";
    Plotly.newPlot("chart-scores", [
      { type: "bar", name: champName, x: centers, y: shares(h.champion), customdata: h.champion, width: width,
        opacity: 0.6, hovertemplate: hover },
      { type: "bar", name: challName, x: centers, y: shares(h.challenger), customdata: h.challenger, width: width,
        opacity: 0.6, hovertemplate: hover }
    ], layout({ barmode: "overlay", xaxis: { title: { text: h.kind === "probability" ? "probability" : "score" } },
                yaxis: { title: { text: "share of the variant's predictions" }, tickformat: ".0%" } }), config);
  } else {
    empty("chart-scores", "No scores logged yet.");
  }

  // Latency percentiles per variant.
  var q = ["p50", "p95", "p99"];
  function lat(v) { return [v.latency_p50_ms, v.latency_p95_ms, v.latency_p99_ms]; }
  if (data.champion.requests || data.challenger.requests) {
    Plotly.newPlot("chart-latency", [
      { type: "bar", name: champName, x: q, y: lat(data.champion) },
      { type: "bar", name: challName, x: q, y: lat(data.challenger) }
    ], layout({ barmode: "group", yaxis: { title: { text: "ms" } } }), config);
  } else {
    empty("chart-latency", "No requests logged yet.");
  }

  // Weight over time, with each analysis as a marker coloured by its decision.
  if (!document.getElementById("chart-timeline")) { return; }
  var colours = { pass: "#2e7d32", fail: "#c62828", wait: "#9e9e9e" };
  var t = data.timeline;
  var traces = [{
    type: "scatter", mode: "lines", line: { shape: "hv" }, name: "challenger weight",
    x: t.weights.map(function (w) { return w.at; }),
    y: t.weights.map(function (w) { return w.weight; }),
    text: t.weights.map(function (w) { return w.event; })
  }];
  ["pass", "fail", "wait"].forEach(function (decision) {
    var rows = t.analyses.filter(function (a) { return a.decision === decision; });
    if (!rows.length) return;
    traces.push({
      type: "scatter", mode: "markers", name: "analysis: " + decision,
      marker: { size: 11, color: colours[decision] },
      x: rows.map(function (a) { return a.created_at; }),
      y: rows.map(function (a) { return a.weight; }),
      text: rows.map(function (a) { return "step " + a.step + (a.failed_metric ? " · " + a.failed_metric : ""); })
    });
  });
  Plotly.newPlot("chart-timeline", traces,
    layout({ yaxis: { title: { text: "challenger weight (%)" }, range: [-5, 105] } }), config);
})();
