// The console's drag and drop: an idea dropped on a key area posts the very form its
// "Move to key area" list and button post, so the keyboard and the mouse do the same act.
// Listeners sit on the document, so they keep working after a live refresh swaps the parts.
(function () {
  "use strict";

  function zoneOf(target) {
    return target && target.closest ? target.closest("[data-dropzone]") : null;
  }

  document.addEventListener("dragstart", function (e) {
    var item = e.target.closest && e.target.closest("[data-idea-id][draggable='true']");
    if (!item) return;
    e.dataTransfer.setData("text/plain", item.dataset.ideaId);
    e.dataTransfer.effectAllowed = "move";
    item.classList.add("dragging");
  });

  document.addEventListener("dragend", function (e) {
    var item = e.target.closest && e.target.closest("[data-idea-id]");
    if (item) item.classList.remove("dragging");
    document.querySelectorAll("[data-dropzone].over").forEach(function (z) { z.classList.remove("over"); });
  });

  document.addEventListener("dragover", function (e) {
    var zone = zoneOf(e.target);
    if (!zone) return;
    e.preventDefault(); // allows the drop
    e.dataTransfer.dropEffect = "move";
    zone.classList.add("over");
  });

  document.addEventListener("dragleave", function (e) {
    var zone = zoneOf(e.target);
    if (zone && !zone.contains(e.relatedTarget)) zone.classList.remove("over");
  });

  document.addEventListener("drop", function (e) {
    var zone = zoneOf(e.target);
    if (!zone) return;
    e.preventDefault();
    zone.classList.remove("over");
    var ideaId = e.dataTransfer.getData("text/plain");
    var form = ideaId && document.querySelector("form[data-group-form='" + CSS.escape(ideaId) + "']");
    if (!form) return;
    var select = form.querySelector("select[name='key_area_id']");
    select.value = zone.dataset.areaId;
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  });

  // A live refresh rebuilds the parts: keep open the edit panels the facilitator opened.
  var open = {};
  document.addEventListener("toggle", function (e) {
    var panel = e.target;
    if (!panel.matches || !panel.matches("details[data-keep-open]")) return;
    if (panel.open) { open[panel.id] = true; } else { delete open[panel.id]; }
  }, true);
  document.addEventListener("qw:refreshed", function (e) {
    e.detail.querySelectorAll("details[data-keep-open]").forEach(function (panel) {
      if (open[panel.id]) panel.open = true;
    });
  });
})();
