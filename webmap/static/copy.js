/* A "copy the link" button: shown where the browser lets a page write to the clipboard (HTTPS or localhost). */
(function () {
  "use strict";
  var button = document.getElementById("copy-link");
  if (!button || !navigator.clipboard || !window.isSecureContext) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(button.dataset.copy).then(function () { button.textContent = button.dataset.done; });
  });
})();
