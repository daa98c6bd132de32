// IOC dashboard: the "Nhập dữ liệu lịch sử (Historical import)" panel, from GET /v1/imports.
// It builds its own section (before the source-health panel) and refreshes every 5 s while the
// page is open. Text from the API is set with textContent only.
"use strict";

(() => {
  const numberVi = new Intl.NumberFormat("vi-VN");
  const dateVi = new Intl.DateTimeFormat("vi-VN", { dateStyle: "short", timeZone: "Asia/Ho_Chi_Minh" });
  const STATUS = { importing: "Đang nhập (importing)", complete: "Hoàn tất (complete)" };
  const HEADERS = [
    ["Lượt nhập", "Run"], ["Nguồn", "Source"], ["Trạng thái", "Status"],
    ["Đã áp dụng / trùng", "Applied / duplicates"], ["Cửa sổ", "Windows"],
    ["Khoảng thời gian", "Event time range"],
  ];

  function cell(text, attrs = {}) {
    const td = document.createElement("td");
    td.textContent = text;
    for (const [name, value] of Object.entries(attrs)) td.setAttribute(name, value);
    return td;
  }

  function buildPanel() {
    const section = document.createElement("section");
    section.className = "panel";
    section.id = "imports-panel";
    section.setAttribute("aria-labelledby", "imports-title");
    const title = document.createElement("h2");
    title.id = "imports-title";
    title.append("Nhập dữ liệu lịch sử ");
    const en = document.createElement("span");
    en.className = "en";
    en.textContent = "Historical import";
    title.append(en);
    const table = document.createElement("table");
    table.id = "imports-table";
    const head = document.createElement("tr");
    for (const [vi, english] of HEADERS) {
      const th = document.createElement("th");
      th.append(`${vi} `);
      const small = document.createElement("span");
      small.className = "en";
      small.textContent = english;
      th.append(small);
      head.append(th);
    }
    table.createTHead().append(head);
    const body = table.createTBody();
    body.id = "imports-rows";
    section.append(title, table);
    const health = document.getElementById("health-title");
    const anchor = health ? health.closest("section") : null;
    if (anchor) anchor.before(section);
    else document.querySelector("main").append(section);
    return body;
  }

  function range(run) {
    if (!run.first_event_time) return "–";
    return `${dateVi.format(new Date(run.first_event_time))} – ${dateVi.format(new Date(run.last_event_time))}`;
  }

  function render(body, runs) {
    if (!runs.length) {
      const row = document.createElement("tr");
      row.append(cell("Chưa có lượt nhập nào (no import yet)", { colspan: String(HEADERS.length) }));
      body.replaceChildren(row);
      return;
    }
    body.replaceChildren(...runs.map((run) => {
      const row = document.createElement("tr");
      row.dataset.runId = run.run_id;
      row.dataset.status = run.status;
      row.append(
        cell(run.run_id), cell(run.source), cell(STATUS[run.status] || run.status),
        cell(`${numberVi.format(run.applied)} / ${numberVi.format(run.duplicates)}`),
        cell(numberVi.format(run.windows)), cell(range(run)));
      return row;
    }));
  }

  async function refresh(body) {
    try {
      const response = await fetch("/v1/imports");
      if (response.ok) render(body, (await response.json()).imports);
    } catch (error) {
      // offline for a moment: the next refresh tries again
    }
  }

  function start() {
    const body = buildPanel();
    refresh(body);
    setInterval(() => refresh(body), 5000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
