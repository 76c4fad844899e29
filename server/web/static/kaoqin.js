// Progressive enhancement of the server-rendered pages: sortable and filterable tables, the phone
// nav toggle, and the dashboard's live feed. Every page works without this file.
"use strict";

function cellValue(row, index, kind) {
  const cell = row.cells[index];
  const text = cell ? cell.textContent.trim() : "";
  if (kind === "number") {
    const value = parseFloat(text.replace(/[^0-9.+-]/g, ""));
    return Number.isNaN(value) ? -Infinity : value;
  }
  return text;
}

function makeSortable(table) {
  const headers = Array.from(table.tHead ? table.tHead.rows[0].cells : []);
  headers.forEach((header, index) => {
    if (!header.dataset.sort) return;
    header.tabIndex = 0;
    const sort = () => {
      const ascending = header.getAttribute("aria-sort") !== "ascending";
      headers.forEach((h) => h.removeAttribute("aria-sort"));
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows).filter((r) => !r.classList.contains("empty"));
      const kind = header.dataset.sort;
      rows.sort((a, b) => {
        const x = cellValue(a, index, kind), y = cellValue(b, index, kind);
        const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y), document.documentElement.lang);
        return ascending ? order : -order;
      });
      rows.forEach((r) => body.appendChild(r));
    };
    header.addEventListener("click", sort);
    header.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
  });
}

function makeFilterable(input) {
  const table = document.getElementById(input.dataset.filterFor);
  if (!table) return;
  input.closest("label").hidden = false;
  input.addEventListener("input", () => {
    const needle = input.value.trim().toLowerCase();
    Array.from(table.tBodies[0].rows).forEach((row) => {
      if (row.classList.contains("empty")) return;
      row.hidden = needle !== "" && !row.textContent.toLowerCase().includes(needle);
    });
  });
}

function navToggle() {
  const button = document.querySelector(".nav-toggle");
  const nav = document.getElementById("main-nav");
  if (!button || !nav) return;
  const narrow = window.matchMedia("(max-width: 47.99rem)");
  const apply = () => {
    button.hidden = !narrow.matches;
    nav.classList.toggle("collapsed", narrow.matches && button.getAttribute("aria-expanded") !== "true");
  };
  button.addEventListener("click", () => {
    button.setAttribute("aria-expanded", button.getAttribute("aria-expanded") === "true" ? "false" : "true");
    apply();
  });
  narrow.addEventListener("change", apply);
  apply();
}

function liveFeed(list) {
  const status = document.querySelector("[data-live-status]");
  if (!window.EventSource) return;
  const source = new EventSource(list.dataset.liveFeed);
  if (status) status.textContent = status.dataset.waiting;
  source.addEventListener("open", () => { if (status) status.textContent = status.dataset.waiting; });
  source.addEventListener("error", () => { if (status) status.textContent = status.dataset.offline; });
  source.addEventListener("checkin", (event) => {
    const item = JSON.parse(event.data);
    const li = document.createElement("li");
    li.className = "new";
    const time = document.createElement("time");
    time.textContent = item.date + " " + item.time;
    const who = document.createElement("strong");
    who.textContent = item.who;
    const what = document.createElement("span");
    what.textContent = item.kind + " · " + item.device + " · " + item.how;
    li.append(time, " ", who, " ", what);
    list.prepend(li);
    while (list.children.length > 200) list.lastElementChild.remove();
    if (status) status.textContent = "";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table[data-sortable]").forEach(makeSortable);
  document.querySelectorAll("input[data-filter-for]").forEach(makeFilterable);
  document.querySelectorAll("[data-live-feed]").forEach(liveFeed);
  navToggle();
});
