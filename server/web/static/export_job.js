// The export page: poll the job's status every second, move the bar, and reload once it is finished
// (the server then draws the download link or the message). Without JS a meta refresh reloads.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-export-status]");
  if (!box) return;
  const bar = box.querySelector("progress");
  const text = box.querySelector("[data-export-text]");
  const poll = async () => {
    try {
      const reply = await fetch(box.dataset.exportStatus, { headers: { Accept: "application/json" } });
      if (reply.ok) {
        const job = await reply.json();
        if (bar) { bar.max = job.total || 1; bar.value = job.done; }
        if (text && job.total) text.textContent = text.dataset.running.replace("{done}", job.done).replace("{total}", job.total);
        if (["done", "refused", "failed"].includes(job.state)) { window.location.reload(); return; }
      }
    } catch (e) { /* try again on the next tick */ }
    window.setTimeout(poll, 1000);
  };
  window.setTimeout(poll, 500);
});
