// Keeps every running batch job's progress bar current: polls GET /api/v1/batch-jobs/<id>/
// (the session authenticates it) once a second until the job has finished.
(function () {
  "use strict";
  var FINISHED = ["succeeded", "failed", "cancelled"];
  var INTERVAL_MS = 1000;

  function render(el, job) {
    var bar = el.querySelector("progress");
    if (job.progress === null) bar.removeAttribute("value");
    else bar.value = job.progress;
    el.querySelector(".rows-done").textContent = job.rows_done;
    el.querySelector(".rows-total").textContent = job.rows_total === null ? "?" : job.rows_total;
    el.querySelector(".status").textContent = job.status;
    el.dataset.status = job.status;
    if (job.status === "succeeded") {  // the download links appear once there is an output
      document.querySelectorAll('[data-when-succeeded="' + el.dataset.jobId + '"]').forEach(function (link) {
        link.hidden = false;
      });
    }
  }

  function poll(el) {
    if (FINISHED.indexOf(el.dataset.status) !== -1) return;
    fetch(el.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (job) render(el, job);
        if (FINISHED.indexOf(el.dataset.status) === -1) setTimeout(function () { poll(el); }, INTERVAL_MS);
      })
      .catch(function () { setTimeout(function () { poll(el); }, INTERVAL_MS * 5); });
  }

  document.querySelectorAll(".batch-progress").forEach(poll);
})();
