// The auditor's time slider: moving it (or using the position / time fields) fetches
// the board as it was at that moment (X-Fragment: 1) and swaps it in without a reload.
// Without JavaScript the same controls are plain GET forms.
(function () {
  "use strict";
  var timer = null;
  var latestRequest = 0;

  function labels(root) {
    return Array.prototype.map.call(root.querySelectorAll("[data-moments] li"), function (li) {
      return { position: li.dataset.position, text: li.textContent };
    });
  }

  function showLabel(root, step) {
    var moments = labels(root);
    var moment = moments[Math.min(step, moments.length - 1)];
    if (!moment) return;
    var slider = root.querySelector("[data-slider]");
    root.querySelector("[data-moment-label]").textContent = moment.text;
    slider.setAttribute("aria-valuetext", moment.text);
  }

  function load(root, params) {
    var url = root.dataset.part + "?" + params.toString();
    var request = ++latestRequest;
    return fetch(url, { headers: { "X-Fragment": "1" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || request !== latestRequest) return; // a newer move won
        var part = document.querySelector("[data-board-part]");
        part.innerHTML = html;
        var board = part.querySelector("[data-board]");
        if (!board) return;
        root.querySelector("[data-slider]").value = board.dataset.step;
        root.querySelector("[data-position-field]").value = board.dataset.position;
        root.querySelector("[data-time-field]").value = board.dataset.time;
        root.querySelector("[data-moment-label]").textContent = board.dataset.label;
        root.querySelector("[data-slider]").setAttribute("aria-valuetext", board.dataset.label);
        history.replaceState(null, "", "?position=" + board.dataset.position);
      })
      .catch(function () {});
  }

  function setUp(root) {
    var slider = root.querySelector("[data-slider]");
    slider.addEventListener("input", function () {
      showLabel(root, Number(slider.value));
      clearTimeout(timer);
      timer = setTimeout(function () {
        load(root, new URLSearchParams({ step: slider.value }));
      }, 120);
    });
    root.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        load(root, new URLSearchParams(new FormData(form)));
      });
    });
    // The live part says how far the log runs now: let the slider reach the new events.
    document.addEventListener("qw:refreshed", function (event) {
      var max = event.detail && event.detail.querySelector && event.detail.querySelector("[data-max-step]");
      if (max) slider.max = max.dataset.maxStep;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-time-travel]");
    if (root) setUp(root);
  });
})();
