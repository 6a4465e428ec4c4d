// The installer's extras; every page works without them (progressive enhancement).
(function () {
  "use strict";

  // Database: show only the options of the chosen kind.
  var kinds = document.querySelectorAll("[data-db-kind-choice]");
  function showKind() {
    var chosen = document.querySelector("[data-db-kind-choice]:checked");
    if (!chosen) { return; }
    document.querySelectorAll("[data-db-kind]").forEach(function (box) {
      box.hidden = box.getAttribute("data-db-kind") !== chosen.value;
    });
  }
  kinds.forEach(function (radio) { radio.addEventListener("change", showKind); });
  showKind();

  // Help desk: the browser's own time zone, when the admin has not chosen one yet.
  var tz = document.querySelector("select[data-guess]");
  if (tz && window.Intl && Intl.DateTimeFormat) {
    var guess = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (guess && tz.querySelector('option[value="' + guess.replace(/"/g, "") + '"]')) { tz.value = guess; }
  }

  // Password strength: a rough score for the meter; the server applies the real rule.
  function score(pw) {
    if (!pw) { return 0; }
    var kinds = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter(function (re) { return re.test(pw); }).length;
    var unique = new Set(pw.split("")).size;
    if (pw.length < 8 || unique < 4 || (kinds < 2 && pw.length < 16)) { return 1; }
    var s = 1;
    if (pw.length >= 12) { s += 1; }
    if (pw.length >= 16) { s += 1; }
    if (kinds >= 3) { s += 1; }
    return Math.min(s, 4);
  }
  var meter = document.querySelector("[data-password-meter]");
  if (meter) {
    var input = document.getElementById(meter.getAttribute("data-password-meter"));
    var text = document.getElementById("password-strength");
    var labels = JSON.parse(meter.getAttribute("data-labels") || "[]");
    var update = function () {
      var s = score(input.value);
      meter.value = s;
      meter.hidden = text.hidden = !input.value;
      text.textContent = labels[s] || "";
    };
    input.addEventListener("input", update);
    update();
  }

  // "Generate a strong password": fills both fields and shows the password so it can be copied.
  var gen = document.querySelector("[data-generate-password]");
  if (gen && window.crypto && crypto.getRandomValues) {
    gen.hidden = false;
    gen.addEventListener("click", function () {
      var sets = ["abcdefghijkmnpqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789", "-_.!@#%+="];
      var all = sets.join(""), out = [], buf = new Uint32Array(20);
      crypto.getRandomValues(buf);
      for (var i = 0; i < 20; i++) { out.push((i < 4 ? sets[i] : all)[buf[i] % (i < 4 ? sets[i].length : all.length)]); }
      for (var j = out.length - 1; j > 0; j--) { var k = buf[j] % (j + 1), t = out[j]; out[j] = out[k]; out[k] = t; }
      var pw = out.join("");
      gen.getAttribute("data-generate-password").split(" ").forEach(function (id) {
        var field = document.getElementById(id);
        if (field) { field.value = pw; field.type = "text"; field.dispatchEvent(new Event("input")); }
        var old = document.getElementById(id + "-error");  // a refusal of the password typed before
        if (old) { old.remove(); }
      });
      var hint = document.getElementById("generated-hint");
      if (hint) { hint.hidden = false; }
    });
  }

  // Install / Upgrade: one click only, and say that it is working.
  document.querySelectorAll("form[data-busy-form]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      var button = ev.submitter;
      if (!button || !button.hasAttribute("data-busy-label")) { return; }
      if (form.getAttribute("data-busy") === "1") { ev.preventDefault(); return; }
      form.setAttribute("data-busy", "1");
      // the relabelled button still sends a non-empty value, which is all the server checks
      button.value = button.getAttribute("data-busy-label");
      button.setAttribute("aria-disabled", "true");
    });
  });

  // Finish: once it is on the page, its step indicator replaces the running one.
  if (document.getElementById("finish")) {
    document.body.classList.add("js-finished");
    document.getElementById("finish").scrollIntoView();
  }
})();
