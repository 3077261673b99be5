// The compare page: grouped bars of every numeric metric, one colour per version (Plotly from
// static/, no CDN); the version checkboxes fill the `versions` field the server reads.
(function () {
  "use strict";
  var form = document.getElementById("compare-form");
  if (form) {
    form.addEventListener("submit", function () {
      var chosen = Array.prototype.map.call(form.querySelectorAll('input[name="v"]:checked'), function (box) {
        return box.value;
      });
      form.querySelector("#compare-versions").value = chosen.join(",");
      form.querySelectorAll('input[name="v"]').forEach(function (box) { box.disabled = true; });
    });
  }
  var el = document.getElementById("chart-metrics");
  var source = document.getElementById("compare-data");
  if (!el || !source || !window.Plotly) return;
  var data = JSON.parse(source.textContent);
  var traces = data.traces.map(function (t) {
    return { type: "bar", name: t.name, x: data.metrics, y: t.values, hovertemplate: "%{x}: %{y:.4g}<extra>" + t.name + "</extra>" };
  });
  window.Plotly.newPlot(el, traces, {
    barmode: "group",
    height: 320,
    margin: { t: 20, r: 10, b: 40, l: 50 },
    legend: { orientation: "h", y: -0.2 },
    yaxis: { title: { text: "value" } }
  }, { displaylogo: false, responsive: true });
})();
