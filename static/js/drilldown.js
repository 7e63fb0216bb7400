// Clicking a bar or a dot of a dashboard chart opens what it stands for: a point whose
// customdata starts with a URL on this site ("/customers/?segment=…", "/customers/42/")
// drills down to it. charts.js draws the figures; this file only listens to clicks.
(function () {
  "use strict";
  function target(point) {
    var data = point && point.customdata;
    var url = Array.isArray(data) ? data[0] : null;
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" ? url : null;
  }
  function clickable(el) {
    var data = el.data || [];
    return data.some(function (trace) {
      return Array.isArray(trace.customdata) && trace.customdata.some(function (d) {
        return target({customdata: d});
      });
    });
  }
  function attach() {
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      if (el.dataset.drilldown || typeof el.on !== "function" || !clickable(el)) { return; }
      el.dataset.drilldown = "1";
      el.on("plotly_click", function (event) {
        var url = target(event.points && event.points[0]);
        if (url) { window.location.assign(url); }
      });
      var cursor = function (value) {
        el.querySelectorAll(".nsewdrag").forEach(function (layer) { layer.style.cursor = value; });
      };
      el.on("plotly_hover", function (event) { cursor(target(event.points && event.points[0]) ? "pointer" : ""); });
      el.on("plotly_unhover", function () { cursor(""); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attach);
  } else {
    attach();
  }
  document.addEventListener("htmx:afterSwap", function () { window.setTimeout(attach, 0); });
})();
