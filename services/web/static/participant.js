// The participant's page: keep what someone has typed or ticked when a live
// refresh replaces a part (others' ideas and ballots arrive all the time), and
// show the dots left as the voter types (the domain still enforces the budget).
(function () {
  "use strict";
  var drafts = {};   // "form action|field name" -> {checked} or {value}
  var opened = {};   // details id -> open

  function keyOf(el) {
    var form = el.form;
    return (form ? form.getAttribute("action") : "") + "|" + el.name;
  }

  function remember(e) {
    var el = e.target;
    if (!el.name || !el.form || el.type === "hidden") return;
    drafts[keyOf(el)] = (el.type === "checkbox" || el.type === "radio")
      ? { checked: el.checked } : { value: el.value };
    if (el.form.dataset.method === "dots") updateDots(el.form);
  }

  function restore(root) {
    root.querySelectorAll("input[name], textarea[name], select[name]").forEach(function (el) {
      if (!el.form || el.type === "hidden") return;
      var draft = drafts[keyOf(el)];
      if (!draft) return;
      if ("checked" in draft) el.checked = draft.checked; else el.value = draft.value;
    });
    root.querySelectorAll("details[id]").forEach(function (d) {
      if (d.id in opened) d.open = opened[d.id];
    });
    root.querySelectorAll("form[data-method='dots']").forEach(updateDots);
  }

  function updateDots(form) {
    var budget = parseInt(form.dataset.budget || "0", 10);
    var spent = 0;
    form.querySelectorAll("input[type='number']").forEach(function (input) {
      var n = parseInt(input.value, 10);
      if (!isNaN(n) && n > 0) spent += n;
    });
    var out = form.querySelector("[data-dots-left]");
    var box = form.querySelector("[data-dots-left-box]");
    if (out) out.textContent = String(budget - spent);
    if (box) box.classList.toggle("participant-over", spent > budget);
  }

  function forget(e) {
    var action = e.target.getAttribute && e.target.getAttribute("action");
    if (!action) return;
    Object.keys(drafts).forEach(function (k) {
      if (k.indexOf(action + "|") === 0) delete drafts[k];
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("input", remember);
    document.addEventListener("change", remember);
    document.addEventListener("submit", forget);
    document.addEventListener("toggle", function (e) {
      if (e.target.tagName === "DETAILS" && e.target.id) opened[e.target.id] = e.target.open;
    }, true);
    document.addEventListener("qw:refreshed", function (e) { restore(e.detail); });
    document.querySelectorAll("form[data-method='dots']").forEach(updateDots);
  });
})();
