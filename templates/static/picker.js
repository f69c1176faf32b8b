// Instant filtering of the department list; the server-side search works without it.
(function () {
  "use strict";
  var input = document.getElementById("q");
  var list = document.getElementById("departments");
  var count = document.getElementById("result-count");
  if (!input || !list || !count) return;
  var items = Array.prototype.slice.call(list.querySelectorAll("li[data-search]"));
  var total = count.textContent.replace(/^\d+ of /, "of ");
  function filter() {
    var q = input.value.trim().toLowerCase();
    var shown = 0;
    items.forEach(function (li) {
      var match = q === "" || li.getAttribute("data-search").indexOf(q) !== -1;
      li.hidden = !match;
      if (match) shown += 1;
    });
    count.textContent = shown + " " + total;
  }
  input.addEventListener("input", filter);
})();
