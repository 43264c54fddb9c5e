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

// The queue's deadlines count down between two updates from the server.
function frenchDuration(ms) {
  var minutes = Math.max(0, Math.ceil(ms / 60000));
  var days = Math.floor(minutes / 1440);
  minutes -= days * 1440;
  var hours = Math.floor(minutes / 60);
  minutes -= hours * 60;
  var mm = (minutes < 10 ? "0" : "") + minutes;
  if (days) { return hours ? days + " j " + hours + " h" : days + " j"; }
  if (hours) { return minutes ? hours + " h " + mm + " min" : hours + " h"; }
  return minutes + " min";
}
function updateCountdowns() {
  var now = Date.now();
  document.querySelectorAll("time[data-countdown]").forEach(function (element) {
    var due = Date.parse(element.getAttribute("datetime"));
    if (isNaN(due)) { return; }
    element.textContent = due >= now ? "dans " + frenchDuration(due - now) : "dépassé de " + frenchDuration(now - due);
  });
}
setInterval(updateCountdowns, 30000);
