// The action forms' photo buttons (templates/_actions.html): the page's own button stands over the browser's
// file input, whose words are the browser's language; this says beside it how many photos are chosen.
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll(".photo-field"), function (field) {
    var input = field.querySelector("input[type=file]");
    var chosen = field.querySelector(".photo-chosen");
    if (!input || !chosen) { return; }
    input.addEventListener("change", function () {
      var n = (input.files || []).length;
      chosen.textContent = n ? chosen.dataset.some.replace("{n}", String(n)) : chosen.dataset.none;
    });
  });
})();
