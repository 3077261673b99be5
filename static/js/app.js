// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // <button data-confirm="..."> asks before submitting its form.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
  // Narrow screens: "Menu" opens and closes the navigation.
  var topbar = document.querySelector(".topbar");
  var toggle = document.getElementById("nav-toggle");
  if (topbar && toggle) {
    topbar.classList.add("js-nav");
    toggle.addEventListener("click", function () {
      var open = topbar.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
  // Every data table scrolls sideways in its own box instead of widening the page.
  document.querySelectorAll("table.data").forEach(function (table) {
    if (table.parentElement.classList.contains("table-scroll")) return;
    var box = document.createElement("div");
    box.className = "table-scroll";
    table.parentNode.insertBefore(box, table);
    box.appendChild(table);
  });
  // <button data-copy="#selector"> copies that element's text.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = "Copied";
    });
  });
})();
