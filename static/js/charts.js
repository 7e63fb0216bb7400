// Draws every plotly figure on the page. Figures arrive as JSON through Django's
// json_script, never pasted into a script, so the page needs no inline JavaScript.
(function () {
  "use strict";
  function draw() {
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source || el.dataset.drawn) { return; }
      var figure = JSON.parse(source.textContent);
      var config = {responsive: true, displaylogo: false,
        toImageButtonOptions: {format: "png", filename: el.dataset.figure}};
      window.Plotly.newPlot(el, figure.data, figure.layout, config);
      el.dataset.drawn = "1";
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
  document.addEventListener("htmx:afterSwap", draw);
})();
