// Knowledgebase suggestions while typing: progressive enhancement for any input or textarea that has
// data-suggest-url. Without JavaScript the form works as before; nothing here is needed to submit it.
//
//   <textarea name="message" data-suggest-url="/suggest_articles"   JSON {"articles": [{id, title, url, preview}]}
//             data-suggest-with="#subject"          other fields whose text joins the query (selectors, comma-separated)
//             data-suggest-title="Suggested knowledgebase articles"   heading of the list (translated by the page)
//             data-suggest-name="suggested"          adds <input type=hidden name=suggested value=ID> to the form
//                                                    for every article shown (the ticket remembers them)
//             data-suggest-target="#kb-suggestions"  where the list goes (default: a new box after the field)
//             data-suggest-insert="1"                staff: "Insert link" / "Insert text" buttons put the
//             data-suggest-link-label="Insert link"  article's address or text into this field
//             data-suggest-text-label="Insert text"
//             data-suggest-min="3"                   characters typed before asking
//             data-suggest-initial="0">              do not ask for the text already in the field on load
//
// Titles and previews are inserted as text (textContent), never as HTML.
(function () {
  "use strict";
  if (!window.fetch) { return; }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      if (timer) { window.clearTimeout(timer); }
      timer = window.setTimeout(fn, ms);
    };
  }

  function insertAtCursor(field, text) {
    var start = field.selectionStart, end = field.selectionEnd, value = field.value;
    if (typeof start !== "number") { field.value = value + text; return; }
    var before = value.slice(0, start), after = value.slice(end);
    var pad = before && !/\s$/.test(before) ? "\n" : "";
    field.value = before + pad + text + after;
    var pos = (before + pad + text).length;
    field.setSelectionRange(pos, pos);
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.focus();
  }

  function enhance(field) {
    var url = field.getAttribute("data-suggest-url");
    if (!url || field.getAttribute("data-suggest-ready")) { return; }
    field.setAttribute("data-suggest-ready", "1");
    var min = parseInt(field.getAttribute("data-suggest-min") || "3", 10);
    var others = [];
    (field.getAttribute("data-suggest-with") || "").split(",").forEach(function (sel) {
      sel = sel.trim();
      if (sel) { document.querySelectorAll(sel).forEach(function (el) { others.push(el); }); }
    });
    var box = null;
    var targetSel = field.getAttribute("data-suggest-target");
    if (targetSel) { box = document.querySelector(targetSel); }
    if (!box) {
      box = document.createElement("div");
      field.insertAdjacentElement("afterend", box);
    }
    box.classList.add("kb-suggest");
    box.setAttribute("aria-live", "polite");
    box.hidden = true;
    var hiddenName = field.getAttribute("data-suggest-name");
    var seen = {};
    var latest = 0;
    var lastQuery = null;

    function remember(id) {
      if (!hiddenName || !field.form || seen[id]) { return; }
      seen[id] = true;
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = hiddenName;
      input.value = String(id);
      field.form.appendChild(input);
    }

    function render(articles) {
      box.textContent = "";
      if (!articles.length) { box.hidden = true; return; }
      var title = document.createElement("p");
      title.className = "kb-suggest-title";
      title.textContent = field.getAttribute("data-suggest-title") || "Suggested knowledgebase articles";
      box.appendChild(title);
      var list = document.createElement("ul");
      articles.forEach(function (a) {
        var li = document.createElement("li");
        var link = document.createElement("a");
        link.href = a.url;
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = a.title;
        li.appendChild(link);
        if (field.getAttribute("data-suggest-insert") === "1") {
          if (a.link) {  // only articles customers can open have a link worth sending them
            var asLink = document.createElement("button");
            asLink.type = "button";
            asLink.className = "button";
            asLink.textContent = field.getAttribute("data-suggest-link-label") || "Insert link";
            asLink.addEventListener("click", function () { insertAtCursor(field, a.link); });
            li.appendChild(asLink);
          }
          if (a.text) {
            var asText = document.createElement("button");
            asText.type = "button";
            asText.className = "button";
            asText.textContent = field.getAttribute("data-suggest-text-label") || "Insert text";
            asText.addEventListener("click", function () { insertAtCursor(field, a.text); });
            li.appendChild(asText);
          }
        }
        if (a.preview) {
          var p = document.createElement("span");
          p.className = "hint";
          p.textContent = a.preview;
          li.appendChild(p);
        }
        list.appendChild(li);
        remember(a.id);
      });
      box.appendChild(list);
      box.hidden = false;
    }

    function query() {
      var parts = others.map(function (el) { return el.value || ""; });
      parts.push(field.value || "");
      return parts.join(" ").replace(/\s+/g, " ").trim().slice(0, 2000);
    }

    var ask = debounce(function () {
      var q = query();
      if (q === lastQuery) { return; }
      lastQuery = q;
      if (q.length < min) { render([]); return; }
      var mine = ++latest;
      var sep = url.indexOf("?") === -1 ? "?" : "&";
      fetch(url + sep + "q=" + encodeURIComponent(q), {
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (r) {
        return r.ok ? r.json() : { articles: [] };
      }).then(function (data) {
        if (mine === latest) { render((data && data.articles) || []); }
      }).catch(function () { /* suggestions are a bonus: stay quiet */ });
    }, 350);

    field.addEventListener("input", ask);
    others.forEach(function (el) { el.addEventListener("input", ask); });
    // Text already there (a form sent back with an error): suggest at once, unless told not to.
    if (field.getAttribute("data-suggest-initial") !== "0" && query().length >= min) { ask(); }
  }

  function init() {
    document.querySelectorAll("[data-suggest-url]").forEach(enhance);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
