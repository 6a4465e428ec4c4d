// The staff ticket pages, progressive enhancement only: every form works without this file.
(function () {
  "use strict";

  // Ticket list: "select all", and show only the selects the chosen bulk action needs.
  var bulk = document.getElementById("bulk-form");
  if (bulk) {
    var all = bulk.querySelector(".select-all");
    if (all) {
      all.hidden = false;
      all.addEventListener("change", function () {
        bulk.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = all.checked; });
      });
    }
    var action = document.getElementById("bulk-action");
    var sync = function () {
      bulk.querySelectorAll("select[data-for]").forEach(function (sel) {
        var show = sel.getAttribute("data-for") === action.value;
        sel.hidden = !show;
        var label = bulk.querySelector("label[for=" + sel.id + "]");
        if (label) { label.hidden = !show; }
      });
    };
    if (action) { action.addEventListener("change", sync); sync(); }
  }

  // Buttons that delete or ban ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });

  // Reply form: auto-save the draft a few seconds after typing stops; count the time worked.
  var replyForm = document.querySelector("form[data-draft-url]");
  if (replyForm) {
    var text = replyForm.querySelector("textarea[name=message]");
    var status = replyForm.querySelector(".draft-status");
    var token = replyForm.querySelector("input[name=csrf_token]");
    var timer = null;
    var lastSaved = text ? text.value : "";
    var save = function () {
      if (!text || text.value === lastSaved) { return; }
      var body = new FormData();
      body.append("csrf_token", token.value);
      body.append("message", text.value);
      var sent = text.value;
      fetch(replyForm.getAttribute("data-draft-url"), {
        method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
        if (data && status) {
          lastSaved = sent;
          status.textContent = replyForm.getAttribute("data-text-saved") + " " + new Date().toLocaleTimeString();
        }
      }).catch(function () { /* the draft button still works */ });
    };
    if (text) {
      text.addEventListener("input", function () {
        if (timer) { clearTimeout(timer); }
        timer = setTimeout(save, 3000);
      });
    }
    var spent = replyForm.querySelector("input[name=time_spent]");
    if (spent && replyForm.getAttribute("data-autostart") === "1") {
      var parse = function (v) {
        var p = (v || "0:00:00").split(":").map(Number);
        while (p.length < 3) { p.unshift(0); }
        return (p[0] * 3600 + p[1] * 60 + p[2]) || 0;
      };
      var pad = function (n) { return (n < 10 ? "0" : "") + n; };
      var seconds = parse(spent.value);
      var touched = false;
      spent.addEventListener("input", function () { touched = true; });
      setInterval(function () {
        if (touched) { return; }
        seconds += 1;
        spent.value = Math.floor(seconds / 3600) + ":" + pad(Math.floor(seconds % 3600 / 60)) + ":" + pad(seconds % 60);
      }, 1000);
    }
  }

  // Collision notice: poll who else is viewing and whether someone replied since the page loaded.
  var live = document.querySelector(".collision-live");
  if (live && window.fetch) {
    var url = live.getAttribute("data-viewers-url");
    var since = live.getAttribute("data-last-reply") || "0";
    var poll = function () {
      fetch(url + "?since=" + encodeURIComponent(since), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          var parts = [];
          if (data.viewers.length) {
            parts.push(live.getAttribute("data-text-viewing") + " " + data.viewers.map(function (v) { return v.name; }).join(", "));
          }
          if (data.new_replies.length) {
            parts.push(live.getAttribute("data-text-replied") + " " + data.new_replies.map(function (r) { return r.name; }).join(", "));
          }
          live.textContent = parts.join(" — ");
          live.hidden = parts.length === 0;
        }).catch(function () {});
    };
    setInterval(poll, 20000);
  }
})();
