// Live pages without reloads: the page's live channel says "changed", and every
// element with data-refresh="URL" fetches its fresh HTML from that URL. Countdowns
// tick each second and are announced to screen readers politely, once a minute
// and in the last 30 and 10 seconds.
(function () {
  "use strict";
  var statusText = { open: "Live", retry: "Reconnecting…" };
  var pending = false;

  function refreshAll() {
    pending = false;
    document.querySelectorAll("[data-refresh]").forEach(function (el) {
      // Only the newest answer may replace the part: an older one can arrive late.
      var ticket = String((parseInt(el.dataset.ticket || "0", 10) || 0) + 1);
      el.dataset.ticket = ticket;
      fetch(el.dataset.refresh, { headers: { "X-Fragment": "1" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (el.dataset.ticket !== ticket) return;
          var typing = null;
          if (html !== null) {
            typing = focusedIn(el);
            el.innerHTML = html;
            startCountdowns(el);
          }
          document.dispatchEvent(new CustomEvent("qw:refreshed", { detail: el }));
          if (typing) refocus(el, typing);
        })
        .catch(function () {});
    });
  }

  // Someone typing in a part that is being replaced keeps their field: what they
  // typed, the cursor and the focus move to the same field in the new part.
  function fieldKey(field) {
    var key = (field.form ? field.form.getAttribute("action") : "") + "|" + field.name;
    return /checkbox|radio/.test(field.type) ? key + "|" + field.value : key;
  }

  function focusedIn(el) {
    var field = document.activeElement;
    if (!field || !el.contains(field) || !/INPUT|TEXTAREA|SELECT/.test(field.tagName)) return null;
    var typing = { id: field.id, key: fieldKey(field), value: field.value, checked: field.checked };
    try { typing.start = field.selectionStart; typing.end = field.selectionEnd; } catch (e) {}
    return typing;
  }

  function refocus(el, typing) {
    var field = typing.id ? document.getElementById(typing.id) : null;
    if (!field || !el.contains(field)) {
      field = null;
      el.querySelectorAll("input, textarea, select").forEach(function (f) {
        if (!field && f.name && fieldKey(f) === typing.key) field = f;
      });
    }
    if (!field) return; // the field is gone (the phase moved on)
    if (/checkbox|radio/.test(field.type)) field.checked = typing.checked; else field.value = typing.value;
    field.focus({ preventScroll: true });
    if (typing.start !== undefined && typing.start !== null) {
      try { field.setSelectionRange(typing.start, typing.end); } catch (e) {}
    }
  }

  function schedule() {
    if (!pending) { pending = true; setTimeout(refreshAll, 150); }
  }

  function connect() {
    var source = document.body.dataset.live;
    if (!source || !window.EventSource) return;
    var status = document.querySelector("[data-live-status]");
    var es = new EventSource(source);
    es.addEventListener("open", function () {
      if (status) status.textContent = statusText.open;
      schedule(); // catch up on what was recorded before (re)connecting
    });
    es.addEventListener("changed", schedule);
    es.addEventListener("error", function () { if (status) status.textContent = statusText.retry; });
  }

  function format(seconds) {
    var s = Math.max(0, Math.round(seconds));
    var m = Math.floor(s / 60);
    return m + ":" + String(s % 60).padStart(2, "0");
  }

  function spoken(seconds) {
    var s = Math.max(0, Math.round(seconds));
    if (s >= 60) { var m = Math.round(s / 60); return m + (m === 1 ? " minute left" : " minutes left"); }
    return s + " seconds left";
  }

  function startCountdowns(root) {
    (root || document).querySelectorAll("[data-countdown-end]").forEach(function (el) {
      if (el.dataset.ticking) return;
      el.dataset.ticking = "1";
      var end = Date.parse(el.dataset.countdownEnd);
      var scale = parseFloat(el.dataset.countdownScale || "1");
      var shown = el.querySelector("[data-countdown-text]") || el;
      var announcer = el.querySelector("[data-countdown-announce]");
      var lastSaid = null;
      function tick() {
        if (!document.body.contains(el)) return;
        var left = (end - Date.now()) / 1000 * scale;
        shown.textContent = format(left);
        var s = Math.max(0, Math.round(left));
        var say = (s % 60 === 0 || s === 30 || s === 10) ? spoken(s) : null;
        if (announcer && say && say !== lastSaid) { announcer.textContent = say; lastSaid = say; }
        if (left > 0) setTimeout(tick, 1000);
      }
      tick();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var status = document.querySelector("[data-live-status]");
    if (status && status.dataset) { statusText.open = status.dataset.open || statusText.open; }
    startCountdowns(document);
    connect();
  });
  window.quickwins = { refresh: schedule, startCountdowns: startCountdowns };
})();
