// ess-router: small helps over the plain forms (every page works without this file).
"use strict";

// A counter of characters under each long text: « 123 / 20 000 caractères ».
function setUpCounters(root) {
  root.querySelectorAll("textarea[data-counter]").forEach(function (area) {
    var counter = document.getElementById(area.dataset.counter);
    if (!counter || area.dataset.counting) { return; }
    area.dataset.counting = "1";
    var max = parseInt(area.getAttribute("maxlength"), 10);
    var format = new Intl.NumberFormat("fr-FR");
    function update() {
      counter.textContent = format.format(area.value.length) + " / " + format.format(max) + " caractères";
    }
    counter.hidden = false;
    update();
    area.addEventListener("input", update);
  });
}

// After a refused form, the summary of its errors takes the focus.
function focusErrors(root) {
  var summary = root.querySelector(".error-summary");
  if (summary) { summary.focus(); }
}

document.addEventListener("DOMContentLoaded", function () {
  setUpCounters(document);
  focusErrors(document);
});
document.addEventListener("htmx:afterSwap", function (event) {
  setUpCounters(event.target);
});
