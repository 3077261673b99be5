// Draws the drift charts from the page's json_script data (templates/monitoring/*.html).
// Each chart is drawn only when its <div> is on the page: the report page reuses the
// PSI bars and the feature histogram.
(function () {
  "use strict";
  var node = document.getElementById("drift-data");
  if (!node || typeof Plotly === "undefined") return;
  var data = JSON.parse(node.textContent);
  var report = data.report;
  if (!report) return;

  var config = { displaylogo: false, responsive: true };
  var base = { margin: { t: 30, r: 10, b: 80, l: 55 }, height: 320 };
  var COLOURS = { green: "#2e7d32", amber: "#f9a825", red: "#c62828", unknown: "#9e9e9e" };
  var REFERENCE = "#5c6b8a", CURRENT = "#e8590c";
  var moderate = data.thresholds.psi_moderate, major = data.thresholds.psi_major;

  function $(id) { return document.getElementById(id); }

  // Plotly reads a few HTML-like tags in text: show names exactly as written instead.
  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function isNumber(x) { return typeof x === "number" && isFinite(x); }

  // Bar colour by the policy's PSI thresholds: green below moderate, amber below major, red from major.
  function psiColour(psi) {
    if (!isNumber(psi)) return COLOURS.unknown;
    if (psi >= major) return COLOURS.red;
    if (psi >= moderate) return COLOURS.amber;
    return COLOURS.green;
  }

  function layout(extra) {
    var out = {};
    Object.keys(base).forEach(function (k) { out[k] = base[k]; });
    Object.keys(extra).forEach(function (k) { out[k] = extra[k]; });
    return out;
  }

  function thresholdLines() {
    return [[moderate, COLOURS.amber], [major, COLOURS.red]].filter(function (t) { return isNumber(t[0]); })
      .map(function (t) {
        return { type: "line", xref: "paper", x0: 0, x1: 1, y0: t[0], y1: t[0],
                 line: { color: t[1], width: 1, dash: "dot" } };
      });
  }

  // The threshold lines say what they are, at the right end of each line.
  function thresholdLabels() {
    return [[moderate, COLOURS.amber, "moderate"], [major, COLOURS.red, "major"]]
      .filter(function (t) { return isNumber(t[0]); })
      .map(function (t) {
        return { xref: "paper", x: 1, y: t[0], xanchor: "right", yanchor: "bottom", showarrow: false,
                 text: t[2] + " ≥ " + t[0], font: { size: 11, color: t[1] } };
      });
  }

  // What the bar colours and the star mean, under the chart that uses them.
  function colourLegend(id) {
    var el = $(id);
    if (!el || !el.parentNode || el.parentNode.querySelector(".chart-legend")) return;
    var legend = document.createElement("p");
    legend.className = "chart-legend";
    legend.id = id + "-legend";
    [[COLOURS.green, "below moderate (PSI < " + moderate + ")"],
     [COLOURS.amber, "moderate (" + moderate + " ≤ PSI < " + major + ")"],
     [COLOURS.red, "major (PSI ≥ " + major + ")"]].forEach(function (entry) {
      var item = document.createElement("span");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = entry[0];
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(entry[1]));
      legend.appendChild(item);
    });
    var star = document.createElement("span");
    star.textContent = "★ key feature (named in the monitor policy)";
    legend.appendChild(star);
    el.parentNode.appendChild(legend);
  }

  function empty(id, text) {
    var el = $(id);
    el.textContent = text;
    el.className += " muted";
  }

  // Reference against current, as shares per bin (numeric) or per category.
  function histogramTraces(h) {
    var labels = h.labels.map(esc);
    return [
      { type: "bar", name: "reference", x: labels, y: h.reference, marker: { color: REFERENCE }, opacity: 0.75,
        hovertemplate: "%{x}<br>reference share %{y:.3f}<extra></extra>" },
      { type: "bar", name: "current", x: labels, y: h.current, marker: { color: CURRENT }, opacity: 0.75,
        hovertemplate: "%{x}<br>current share %{y:.3f}<extra></extra>" }
    ];
  }

  function histogramLayout(title, h) {
    return layout({
      title: { text: title, font: { size: 13 } },
      barmode: "group",
      margin: { t: 30, r: 10, b: 110, l: 55 },
      height: 340,
      xaxis: { type: "category", title: { text: h.kind === "categorical" ? "category" : "bin" } },
      yaxis: { title: { text: "share of rows" }, rangemode: "tozero" }
    });
  }

  // --- Score distribution of the latest report ----------------------------------------
  if ($("chart-score")) {
    var prediction = report.prediction;
    if (prediction && prediction.histogram) {
      var title = "scores" + (isNumber(prediction.psi) ? " · PSI " + prediction.psi.toFixed(3) : "");
      Plotly.newPlot("chart-score", histogramTraces(prediction.histogram),
        histogramLayout(title, prediction.histogram), config);
    } else {
      empty("chart-score", "This report has no score distribution (the model logged no scores).");
    }
  }

  // --- PSI per feature, and the clicked feature's histogram ----------------------------
  var features = report.features;
  var select = $("feature-select");

  function showFeature(i) {
    var f = features[i];
    var el = $("chart-feature");
    if (!f || !el) return;
    if (select) select.value = String(i);
    var title = esc(f.feature) + ": reference vs current";
    if (f.histogram) {
      Plotly.react(el, histogramTraces(f.histogram), histogramLayout(title, f.histogram), config);
    } else {
      Plotly.react(el, [], layout({ title: { text: title, font: { size: 13 } },
        annotations: [{ text: "No histogram stored for this feature.", showarrow: false,
                        xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] }), config);
    }
    el.setAttribute("data-feature", f.feature);
  }

  if ($("chart-psi")) {
    if (features.length) {
      var psi = features.map(function (f) { return isNumber(f.psi) ? f.psi : 0; });
      Plotly.newPlot("chart-psi", [{
        type: "bar", name: "PSI",
        x: features.map(function (f) { return esc(f.feature) + (f.key ? " ★" : ""); }),
        y: psi,
        marker: { color: features.map(function (f) { return psiColour(f.psi); }) },
        customdata: features.map(function (f) { return f.severity || "—"; }),
        hovertemplate: "%{x}<br>PSI %{y:.4f}<br>severity %{customdata}<extra></extra>"
      }], layout({ xaxis: { type: "category" }, yaxis: { title: { text: "PSI" }, rangemode: "tozero" },
                   shapes: thresholdLines(), annotations: thresholdLabels(), hovermode: "x" }), config);
    colourLegend("chart-psi");
      $("chart-psi").on("plotly_click", function (event) {
        if (event.points && event.points.length) showFeature(event.points[0].pointIndex);
      });
    } else {
      empty("chart-psi", "This report compared no feature.");
    }
  }

  if ($("chart-feature")) {
    if (select) {
      features.forEach(function (f, i) {
        var option = document.createElement("option");
        option.value = String(i);
        option.textContent = f.feature;
        select.appendChild(option);
      });
      select.addEventListener("change", function () { showFeature(Number(select.value)); });
    }
    if (features.length) showFeature(0); else empty("chart-feature", "No feature to show.");
  }

  // --- Over time: PSI per feature and performance --------------------------------------
  var history = data.history;
  if (!history) return;
  var times = history.times;
  // A click on a point of a per-report series (meta "report") opens that report.
  function openReport(event) {
    var point = event.points && event.points.length ? event.points[0] : null;
    if (!point || point.data.meta !== "report" || !history.report_urls) return;
    var url = history.report_urls[point.pointIndex];
    if (url) window.location.href = url;
  }

  if ($("chart-psi-time")) {
    var lines = history.psi.map(function (s) {
      return {
        type: "scatter", mode: "lines+markers", name: esc(s.feature) + (s.key ? " ★" : ""),
        x: times, y: s.psi, connectgaps: false, meta: "report",
        line: { width: s.key ? 3.5 : 1.5 }, marker: { size: s.key ? 7 : 4 }, opacity: s.key ? 1 : 0.6,
        hovertemplate: "%{fullData.name}<br>%{x}<br>PSI %{y:.4f}<extra></extra>"
      };
    });
    Plotly.newPlot("chart-psi-time", lines, layout({
      yaxis: { title: { text: "PSI" }, rangemode: "tozero" }, shapes: thresholdLines(), annotations: thresholdLabels(),
      legend: { orientation: "h", y: -0.25 }, margin: { t: 20, r: 10, b: 90, l: 55 }
    }), config);
    $("chart-psi-time").on("plotly_click", openReport);
  }

  if ($("chart-performance")) {
    var perf = history.performance;
    var traces = [];
    if (perf) {
      var hasAny = function (values) { return values.some(isNumber); };
      if (hasAny(perf.realised)) {
        traces.push({ type: "scatter", mode: "lines+markers", name: "realised " + perf.metric, x: times, meta: "report",
                      y: perf.realised, line: { color: "#1f4fd1", width: 2.5 }, customdata: perf.labelled_rows,
                      hovertemplate: "%{x}<br>realised %{y:.4f} on %{customdata} labelled rows<extra></extra>" });
      }
      if (hasAny(perf.estimated)) {
        traces.push({ type: "scatter", mode: "lines+markers", name: "estimated " + perf.metric, x: times, meta: "report",
                      y: perf.estimated, line: { color: "#7a4fc9", width: 2.5 } });
      }
      var ends = [times[0], times[times.length - 1]];
      if (isNumber(perf.reference)) {
        traces.push({ type: "scatter", mode: "lines", name: "reference", x: ends,
                      y: [perf.reference, perf.reference], line: { color: REFERENCE, dash: "dash", width: 2 } });
      }
      if (isNumber(perf.floor)) {
        var lowerIsBetter = perf.metric === "rmse" || perf.metric === "mae";
        traces.push({ type: "scatter", mode: "lines", name: lowerIsBetter ? "ceiling" : "floor", x: ends,
                      y: [perf.floor, perf.floor],
                      line: { color: COLOURS.red, dash: "dot", width: 1.5 } });
      }
    }
    if (traces.length) {
      Plotly.newPlot("chart-performance", traces, layout({
        yaxis: { title: { text: perf.metric } }, legend: { orientation: "h", y: -0.25 },
        margin: { t: 20, r: 10, b: 90, l: 55 }
      }), config);
      $("chart-performance").on("plotly_click", openReport);
    } else {
      empty("chart-performance", "No performance yet: it needs ground truth, or a classifier's probabilities.");
    }
  }
})();
