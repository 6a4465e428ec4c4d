// hesk_py: progressive enhancement only; every page works without JavaScript.
(function () {
  "use strict";
  // Colour badges from their data-color attribute (no inline styles: the CSP forbids them).
  document.querySelectorAll("[data-color]").forEach(function (el) {
    var c = el.getAttribute("data-color");
    if (/^#[0-9a-fA-F]{6}$/.test(c)) { el.style.borderColor = c; el.style.color = c; }
  });
})();
