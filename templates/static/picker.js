// Instant filtering of the department list; the server-side search works without it.
(function () {
  "use strict";
  var input = document.getElementById("q");
  var list = document.getElementById("departments");
  var count = document.getElementById("result-count");
  if (!input || !list || !count) return;
  var items = Array.prototype.slice.call(list.querySelectorAll("li[data-search]"));
  var template = count.getAttribute("data-template");
  var total = count.getAttribute("data-total");
  function filter() {
    var q = input.value.trim().toLowerCase();
    var shown = 0;
    items.forEach(function (li) {
      var match = q === "" || li.getAttribute("data-search").indexOf(q) !== -1;
      li.hidden = !match;
      if (match) shown += 1;
    });
    count.textContent = template.replace("{n}", shown).replace("{total}", total);
  }
  input.addEventListener("input", filter);
})();
