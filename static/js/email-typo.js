// "Detect email typos" while typing (progressive enhancement): when an email field loses focus, ask the
// help desk (/suggest_email) whether the domain looks like a misspelt provider and offer the correction.
// Without JavaScript the customer form asks the same question when it is sent.
(function () {
  "use strict";
  if (!window.fetch) { return; }
  var fill = function (text, values) {
    return text.replace("{email}", values.email || "").replace("{value}", values.value || "");
  };
  document.querySelectorAll("[data-typo-url]").forEach(function (holder) {
    var input = holder.matches("input") ? holder : holder.querySelector("input[type=email], input[name=email]");
    if (!input || !input.form) { return; }
    var form = input.form;
    var field = input.closest(".field") || input;
    var box = null;
    var close = function () { if (box) { box.remove(); box = null; } };
    var checked = function (value) {
      var hidden = form.querySelector("input[name=email_checked]");
      if (!hidden) {
        hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = "email_checked";
        form.appendChild(hidden);
      }
      hidden.value = value;
    };
    var offer = function (typed, suggestion) {
      close();
      box = document.createElement("div");
      box.className = "email-typo";
      box.setAttribute("role", "status");
      var question = document.createElement("p");
      question.textContent = fill(holder.getAttribute("data-typo-question"), { email: suggestion });
      var use = document.createElement("button");
      use.type = "button";
      use.className = "button primary";
      use.textContent = fill(holder.getAttribute("data-typo-use"), { email: suggestion });
      var keep = document.createElement("button");
      keep.type = "button";
      keep.className = "button";
      keep.textContent = fill(holder.getAttribute("data-typo-keep"), { value: typed });
      use.addEventListener("click", function () {
        var confirm = form.querySelector("input[name=email2]");
        if (confirm && confirm.value.trim().toLowerCase() === typed.toLowerCase()) { confirm.value = suggestion; }
        input.value = suggestion;
        checked(suggestion);
        close();
        input.focus();
      });
      keep.addEventListener("click", function () { checked(typed); close(); input.focus(); });
      box.appendChild(question);
      box.appendChild(use);
      box.appendChild(keep);
      field.insertAdjacentElement("afterend", box);
    };
    input.addEventListener("change", function () {
      var typed = input.value.trim();
      close();
      if (!typed || typed.indexOf("@") < 1) { return; }
      var url = holder.getAttribute("data-typo-url") + "?e=" + encodeURIComponent(typed);
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (data && data.suggestion && input.value.trim() === typed) { offer(typed, data.suggestion); }
        })
        .catch(function () { /* the form asks when it is sent */ });
    });
  });
})();
