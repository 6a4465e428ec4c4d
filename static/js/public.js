// Customer pages: progressive enhancement only, every page works without JavaScript.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The language menu changes the language as soon as a language is picked.
  document.querySelectorAll("select.js-autosubmit").forEach(function (sel) {
    sel.addEventListener("change", function () { if (sel.form) { sel.form.submit(); } });
  });

  // "Submitting, please wait": one click sends the form once.
  document.querySelectorAll("form[data-wait]").forEach(function (form) {
    var text = form.getAttribute("data-wait");
    if (!text) { return; }
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        window.setTimeout(function () { b.disabled = true; b.textContent = text; }, 0);
      });
    });
  });

  // Print view: a Print button and the font size chosen in the settings.
  document.querySelectorAll(".js-print").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll("[data-font-size]").forEach(function (el) {
    var size = parseInt(el.getAttribute("data-font-size"), 10);
    if (size > 0 && size < 100) { el.style.fontSize = size + "pt"; }
  });

  // Move the keyboard focus to the list of errors, so screen readers announce it.
  var summary = document.getElementById("error-summary") || document.getElementById("form-error");
  if (summary) { summary.setAttribute("tabindex", "-1"); summary.focus(); }
})();
