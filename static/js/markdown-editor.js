// The Markdown editor (progressive enhancement): a toolbar above the textarea (bold, italic, link, list,
// code, quote) and a Preview that shows the text rendered and sanitised by the help desk, exactly as the
// page will show it. Without JavaScript the textarea takes Markdown as typed and the form's own Preview
// button shows the same preview after a round trip.
(function () {
  "use strict";

  var changed = function (ta) {
    ta.focus();
    ta.dispatchEvent(new Event("input", { bubbles: true }));  // the reply form's draft auto-save listens
  };

  // wrap the selection (or a placeholder) in before/after, keep it selected
  var wrap = function (ta, before, after, placeholder) {
    var start = ta.selectionStart, end = ta.selectionEnd, value = ta.value;
    var chosen = value.slice(start, end) || placeholder || "";
    ta.value = value.slice(0, start) + before + chosen + after + value.slice(end);
    ta.selectionStart = start + before.length;
    ta.selectionEnd = ta.selectionStart + chosen.length;
    changed(ta);
  };

  // put prefix in front of every line the selection touches
  var prefixLines = function (ta, prefix) {
    var value = ta.value;
    var empty = ta.selectionStart === ta.selectionEnd;
    var start = value.lastIndexOf("\n", ta.selectionStart - 1) + 1;
    var end = ta.selectionEnd;
    var block = value.slice(start, end).split("\n").map(function (line) { return prefix + line; }).join("\n");
    ta.value = value.slice(0, start) + block + value.slice(end);
    // no selection: the caret after the new prefix, ready to type; else the prefixed lines stay selected
    ta.selectionStart = empty ? start + block.length : start;
    ta.selectionEnd = start + block.length;
    changed(ta);
  };

  document.querySelectorAll("[data-markdown-editor]").forEach(function (holder) {
    var ta = holder.querySelector("textarea");
    if (!ta) { return; }
    var label = function (name) { return holder.getAttribute("data-label-" + name) || name; };
    var form = ta.form;
    var actions = {
      bold: function () { wrap(ta, "**", "**", label("bold")); },
      italic: function () { wrap(ta, "*", "*", label("italic")); },
      link: function () {
        var chosen = ta.value.slice(ta.selectionStart, ta.selectionEnd);
        if (/^https?:\/\/\S+$/.test(chosen)) { wrap(ta, "[" + label("link-text") + "](", ")", ""); }
        else { wrap(ta, "[", "](https://)", label("link-text")); }
      },
      list: function () { prefixLines(ta, "- "); },
      code: function () {
        var chosen = ta.value.slice(ta.selectionStart, ta.selectionEnd);
        if (chosen.indexOf("\n") >= 0) { wrap(ta, "```\n", "\n```", ""); } else { wrap(ta, "`", "`", "code"); }
      },
      quote: function () { prefixLines(ta, "> "); }
    };
    var bar = document.createElement("div");
    bar.className = "md-toolbar";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", label("toolbar"));
    if (ta.id) { bar.setAttribute("aria-controls", ta.id); }
    Object.keys(actions).forEach(function (name) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "md-" + name;
      b.textContent = label(name);
      b.addEventListener("click", actions[name]);
      bar.appendChild(b);
    });

    // the preview, in place of the textarea until "Back to editing"
    var shown = holder.querySelector(".md-preview");
    var panel = shown || document.createElement("div");
    if (!shown) {
      panel.className = "md-preview message-text markdown kb-content";
      panel.hidden = true;
      ta.insertAdjacentElement("afterend", panel);
    }
    panel.setAttribute("aria-live", "polite");
    var toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "md-preview-toggle";
    toggle.textContent = label("preview");
    var editing = function () {
      panel.hidden = true;
      ta.hidden = false;
      toggle.textContent = label("preview");
      toggle.setAttribute("aria-pressed", "false");
      ta.focus();
    };
    toggle.addEventListener("click", function () {
      if (ta.hidden) { editing(); return; }
      var token = form && form.querySelector("input[name=csrf_token]");
      var body = new FormData();
      body.append("text", ta.value);
      if (token) { body.append("csrf_token", token.value); }
      fetch(holder.getAttribute("data-preview-url"), {
        method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
        if (!data) { panel.textContent = label("failed"); }
        else if (!data.html) { panel.textContent = label("empty"); }
        else { panel.innerHTML = data.html; }  // sanitised by the help desk (the page's own renderer)
        panel.hidden = false;
        ta.hidden = true;
        toggle.textContent = label("edit");
        toggle.setAttribute("aria-pressed", "true");
      }).catch(function () { panel.textContent = label("failed"); panel.hidden = false; });
    });
    bar.appendChild(toggle);
    ta.parentNode.insertBefore(bar, ta);
    // the round-trip Preview button is for pages without JavaScript
    if (form) { form.querySelectorAll("button[name=preview]").forEach(function (b) { b.hidden = true; }); }
  });
})();
