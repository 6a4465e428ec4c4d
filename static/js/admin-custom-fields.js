// The custom field form, progressive enhancement only (without this file every option input shows, with
// a hint saying which types use it): show only the options of the chosen type, and the category
// checkboxes only when "only the categories chosen below" is chosen.
(function () {
  "use strict";
  var form = document.querySelector("form.custom-field-form");
  if (!form) { return; }
  var type = form.querySelector("#type");
  var mode = form.querySelector("#category_mode");
  var categories = form.querySelector("#categories-set");

  function showTypeOptions() {
    form.querySelectorAll(".type-option").forEach(function (box) {
      var types = (box.getAttribute("data-types") || "").split(" ");
      box.hidden = types.indexOf(type.value) === -1;
    });
    var group = form.querySelector("fieldset.type-options");
    if (group) {
      group.hidden = !group.querySelector(".type-option:not([hidden])");
    }
  }

  function showCategories() {
    if (categories && mode) { categories.hidden = mode.value !== "chosen"; }
  }

  if (type) { type.addEventListener("change", showTypeOptions); showTypeOptions(); }
  if (mode) { mode.addEventListener("change", showCategories); showCategories(); }
})();
