// Fenghuo console behaviour. No inline scripts: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  // Submit a <select data-autosubmit> as soon as it changes (the language switch).
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit")) {
      target.form.submit();
    }
  });

  // SLA countdowns tick in the browser from the server's due_at; the server stays the truth.
  // <time data-countdown datetime="2026-11-24T10:30:00+08:00">
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function formatRemaining(ms) {
    var late = ms < 0;
    var s = Math.floor(Math.abs(ms) / 1000);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var text = (h > 0 ? h + ":" + pad(m) : String(m)) + ":" + pad(sec);
    return late ? "-" + text : text;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("datetime"));
      if (isNaN(due)) { return; }
      var remaining = due - now;
      el.textContent = formatRemaining(remaining);
      el.classList.toggle("is-late", remaining < 0);
      el.classList.toggle("is-soon", remaining >= 0 && remaining < 15 * 60 * 1000);
    });
  }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 1000);
})();
