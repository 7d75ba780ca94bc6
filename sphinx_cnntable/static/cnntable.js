/* sphinx-cnntable: marks a table's figure with "cnntable-overflows" while the table is
   wider than its scroll box, so that the cue above the table shows (cnntable.css), and
   with "cnntable-at-end" once it is scrolled to its last column. */
(function () {
  "use strict";

  function update(box) {
    var figure = box.parentElement;
    var table = box.querySelector("table");
    if (!figure || !table) {
      return;
    }
    var over = table.getBoundingClientRect().width > box.clientWidth + 1;
    figure.classList.toggle("cnntable-overflows", over);
    figure.classList.toggle("cnntable-at-end", !over || box.scrollLeft + box.clientWidth >= box.scrollWidth - 1);
  }

  function init() {
    var boxes = Array.prototype.slice.call(document.querySelectorAll("div.cnntable-scroll"));
    var observer = null;
    if (window.ResizeObserver) {
      observer = new ResizeObserver(function (entries) {
        entries.forEach(function (entry) {
          update(entry.target.closest("div.cnntable-scroll"));
        });
      });
    } else {
      window.addEventListener("resize", function () {
        boxes.forEach(update);
      });
    }
    boxes.forEach(function (box) {
      update(box);
      box.addEventListener("scroll", function () {
        update(box);
      }, { passive: true });
      if (observer) {
        observer.observe(box);
        observer.observe(box.querySelector("table"));
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
