// Champion-vs-challenger charts of a replay or a retraining run's evaluation (json_script data).
(function () {
  "use strict";
  var node = document.getElementById("comparison-data");
  if (!node || typeof Plotly === "undefined") return;
  var data = JSON.parse(node.textContent);
  var config = { displaylogo: false, responsive: true };
  var base = { margin: { t: 20, r: 10, b: 40, l: 50 }, height: 300 };
  function layout(extra) { return Object.assign({}, base, extra); }
  function empty(id, text) { var el = document.getElementById(id); el.textContent = text; el.className += " muted"; }
  var chall = "challenger v" + (data.challenger_version || "?");
  var champ = "champion v" + (data.champion_version || "?");

  // The metric of each model, and the improvement with its bootstrap interval.
  if (data.challenger_value !== null && data.challenger_value !== undefined) {
    var traces = [{ type: "bar", name: data.metric, x: [champ, chall], y: [data.champion_value, data.challenger_value] }];
    if (data.interval && data.improvement !== null) {
      traces.push({ type: "scatter", mode: "markers", name: "improvement (95% CI)", x: ["improvement"], y: [data.improvement],
        yaxis: "y2", error_y: { type: "data", symmetric: false, array: [data.interval.high - data.improvement],
        arrayminus: [data.improvement - data.interval.low] } });
      traces.push({ type: "scatter", mode: "lines", name: "minimum", x: ["improvement", "improvement"],
        y: [data.min_improvement, data.min_improvement], yaxis: "y2", line: { dash: "dot" } });
    }
    Plotly.newPlot("chart-metric", traces, layout({ yaxis: { title: { text: data.metric } },
      yaxis2: { title: { text: "improvement" }, overlaying: "y", side: "right", zeroline: true } }), config);
  } else { empty("chart-metric", "No labelled rows: no metric."); }

  var h = data.histograms || { edges: [] };
  if (h.edges.length) {
    var centers = [], width = [];
    for (var i = 0; i + 1 < h.edges.length; i++) { centers.push((h.edges[i] + h.edges[i + 1]) / 2); width.push(h.edges[i + 1] - h.edges[i]); }
    var bars = [{ type: "bar", name: chall, x: centers, y: h.challenger, width: width, opacity: 0.6 }];
    if (h.champion.length) bars.unshift({ type: "bar", name: champ, x: centers, y: h.champion, width: width, opacity: 0.6 });
    Plotly.newPlot("chart-scores", bars, layout({ barmode: "overlay", yaxis: { title: { text: "share of rows" }, tickformat: ".0%" } }), config);
  } else { empty("chart-scores", "No scores."); }

  var c = data.calibration;
  if (c && c.challenger && c.challenger.length) {
    function line(points, name) {
      var kept = points.filter(function (p) { return p.rows > 0; });
      return { type: "scatter", mode: "lines+markers", name: name, x: kept.map(function (p) { return p.mean_score; }),
               y: kept.map(function (p) { return p.observed_rate; }) };
    }
    var lines = [line(c.challenger, chall), { type: "scatter", mode: "lines", name: "perfect", x: [0, 1], y: [0, 1], line: { dash: "dot" } }];
    if (c.champion && c.champion.length) lines.unshift(line(c.champion, champ));
    Plotly.newPlot("chart-calibration", lines, layout({ xaxis: { title: { text: "mean predicted" } }, yaxis: { title: { text: "observed rate" } } }), config);
  } else { empty("chart-calibration", "Calibration applies to classifiers' probabilities."); }

  var lat = data.latency_ms || {};
  var names = Object.keys(lat);
  if (names.length) {
    Plotly.newPlot("chart-latency", [{ type: "bar", x: names, y: names.map(function (n) { return lat[n]; }) }],
      layout({ yaxis: { title: { text: "ms a row" } } }), config);
  } else { empty("chart-latency", "No timing."); }
})();
