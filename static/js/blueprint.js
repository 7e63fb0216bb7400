// The blueprint form: show each metric's definition and parameter beside it, hide what
// a left-out expectation does not need, and add commitment forms.
(function () {
  "use strict";
  var source = document.getElementById("metric-catalogue");
  var catalogue = source ? JSON.parse(source.textContent) : {};

  function describe(select) {
    var row = select.closest(".metric-row");
    if (!row) { return; }
    var metric = catalogue[select.value];
    var definition = row.querySelector(".metric-definition");
    if (definition) { definition.textContent = metric ? metric.definition + " (" + metric.unit + ")" : ""; }
    var param = row.querySelector(".param-cell");
    if (param) {
      var has = metric && metric.param;
      param.style.visibility = has ? "visible" : "hidden";
      var label = param.querySelector("label");
      if (has && label) { label.textContent = metric.param.label; }
      var unit = param.querySelector(".param-unit");
      if (unit) { unit.textContent = has ? metric.param.unit + " (default " + metric.param.default + ")" : ""; }
    }
  }

  function toggleExcluded(box) {
    var row = box.closest(".metric-row");
    if (row) { row.classList.toggle("is-excluded", box.checked); }
  }

  function wire(root) {
    root.querySelectorAll("[data-metric-select]").forEach(function (select) {
      describe(select);
      select.addEventListener("change", function () { describe(select); });
    });
    root.querySelectorAll("input[name$='-excluded']").forEach(function (box) {
      toggleExcluded(box);
      box.addEventListener("change", function () { toggleExcluded(box); });
    });
  }

  document.querySelectorAll("[data-add-form]").forEach(function (button) {
    button.addEventListener("click", function () {
      var prefix = button.dataset.addForm;
      var total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
      var template = document.getElementById(prefix + "-empty");
      var index = parseInt(total.value, 10);
      var holder = document.createElement("div");
      holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
      var form = holder.firstElementChild;
      document.getElementById(prefix + "-forms").appendChild(form);
      total.value = String(index + 1);
      wire(form);
      var first = form.querySelector("input[name$='-title']");
      if (first) { first.focus(); }
    });
  });

  wire(document);
})();
