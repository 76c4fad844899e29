// The devices page: fetch its status part again every few seconds and swap it in, so online,
// last read, drift and log usage stay current on a screen left open. Without JS the page's
// "refresh" link reloads it (no meta refresh: it would throw away a half-filled form elsewhere).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-refresh]");
  if (!box) return;
  const every = (Number(box.dataset.refreshSeconds) || 10) * 1000;
  const refresh = async () => {
    try {
      const reply = await fetch(box.dataset.refresh, { headers: { Accept: "text/html" } });
      if (reply.redirected) { window.location.reload(); return; } // signed out: let the page say so
      if (reply.ok) {
        // What was typed in the tables' filter boxes stays, and narrows the new rows too.
        const typed = {};
        box.querySelectorAll("input[data-filter-for]").forEach((i) => { typed[i.dataset.filterFor] = i.value; });
        box.innerHTML = await reply.text();
        if (typeof makeSortable === "function") box.querySelectorAll("table[data-sortable]").forEach(makeSortable);
        box.querySelectorAll("input[data-filter-for]").forEach((input) => {
          if (typeof makeFilterable === "function") makeFilterable(input);
          if (typed[input.dataset.filterFor]) {
            input.value = typed[input.dataset.filterFor];
            input.dispatchEvent(new Event("input"));
          }
        });
      }
    } catch (e) { /* the server is away: try again on the next tick */ }
    window.setTimeout(refresh, every);
  };
  window.setTimeout(refresh, every);
});
