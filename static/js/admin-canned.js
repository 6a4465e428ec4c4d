// Canned responses and ticket templates, progressive enhancement only (every form works without this file):
// - on their management pages, the "Insert" buttons beside each tag put it at the cursor;
// - on a ticket's reply form and on the New ticket form, the picker fills the text in place from the JSON
//   routes (the server fills the tags) instead of reloading the page.
(function () {
  "use strict";
  if (window.heskCannedReady) { return; }  // the file may be included by more than one block
  window.heskCannedReady = true;

  document.querySelectorAll("button.canned-insert").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-target"));
    if (!target) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var tag = button.getAttribute("data-tag");
      var start = target.selectionStart || 0;
      var end = target.selectionEnd || 0;
      target.value = target.value.slice(0, start) + tag + target.value.slice(end);
      target.focus();
      target.selectionStart = target.selectionEnd = start + tag.length;
    });
  });

  var addToBottom = function (field, text) {
    var current = field.value.replace(/\s+$/, "");
    field.value = current ? current + "\n\n" + text : text;
    field.dispatchEvent(new Event("input", { bubbles: true }));  // the draft auto-save notices
    field.focus();
  };

  document.querySelectorAll("form.canned-picker").forEach(function (picker) {
    var select = picker.querySelector("select");
    var status = picker.querySelector(".canned-status");
    var message = document.getElementById(picker.getAttribute("data-canned-target"));
    if (!select || !message) { return; }
    picker.addEventListener("submit", function (ev) {
      if (!select.value) { ev.preventDefault(); return; }
      var base = picker.getAttribute("data-canned-url") || picker.getAttribute("data-template-url");
      var url = base.replace(/0$/, encodeURIComponent(select.value));
      var subject = document.getElementById(picker.getAttribute("data-subject-target") || "");
      if (picker.getAttribute("data-template-url")) {
        var name = document.getElementById(picker.getAttribute("data-name-source") || "");
        var email = document.getElementById(picker.getAttribute("data-email-source") || "");
        url += "?name=" + encodeURIComponent(name ? name.value : "") + "&email=" + encodeURIComponent(email ? email.value : "");
      }
      ev.preventDefault();
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          if (subject && data.subject && !subject.value) { subject.value = data.subject; }
          addToBottom(message, data.message || "");
          if (status) { status.textContent = ""; }
        })
        .catch(function () {
          if (status) { status.textContent = picker.getAttribute("data-canned-error"); }
        });
    });
  });
}());
