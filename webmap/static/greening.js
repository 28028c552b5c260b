/* The greening page's controls: the day slider shows its date while it moves and asks the server
   again when let go; the road, season and task selects ask again when changed. */
(function () {
  "use strict";
  var form = document.getElementById("greening-form");
  var slider = document.getElementById("day-slider");
  var label = document.getElementById("as-of-label");
  var start = Date.UTC(Number(slider.dataset.year), 0, 1);
  slider.addEventListener("input", function () {
    label.textContent = new Date(start + slider.value * 86400000).toISOString().slice(0, 10);
  });
  // a new day or season asks for the task in season then (the server picks it): the task shown before is
  // left out, or June would be judged by November's winter protection
  var task = document.getElementById("task-select");
  function submitWithoutTask() { task.disabled = true; form.submit(); }
  slider.addEventListener("change", submitWithoutTask);
  document.getElementById("season-select").addEventListener("change", submitWithoutTask);
  ["road-select", "task-select"].forEach(function (id) {
    document.getElementById(id).addEventListener("change", function () { form.submit(); });
  });
})();
