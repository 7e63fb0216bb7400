// The worklist's bulk actions: "select all" on the page, a count of the ticked rows,
// and buttons that wait for a selection.
(function () {
  "use strict";
  var form = document.getElementById("bulk-form");
  if (!form) { return; }
  var all = document.querySelector("[data-select-all]");
  var boxes = Array.prototype.slice.call(
    document.querySelectorAll("input[type=checkbox][name=customers]")
  );
  var counter = document.querySelector("[data-selected-count]");
  var buttons = document.querySelectorAll("[data-needs-selection]");

  function update() {
    var ticked = boxes.filter(function (box) { return box.checked; }).length;
    if (counter) {
      counter.textContent = ticked === 0 ? "No customer selected"
        : ticked === 1 ? "1 customer selected" : ticked + " customers selected";
    }
    buttons.forEach(function (button) { button.disabled = ticked === 0; });
    if (all) {
      all.checked = ticked > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    boxes.forEach(function (box) {
      var row = box.closest("tr");
      if (row) { row.classList.toggle("table-active", box.checked); }
    });
  }

  if (all) {
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
      update();
    });
  }
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  update();
})();
