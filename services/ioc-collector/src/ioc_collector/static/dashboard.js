// IOC dashboard: KPI tiles, a time-series chart and the source-health table, kept live by the
// collector's server-sent events (/v1/stream). Text from the API is set with textContent only.
"use strict";

const numberVi = new Intl.NumberFormat("vi-VN", { maximumFractionDigits: 2 });
const timeVi = new Intl.DateTimeFormat("vi-VN", {
  dateStyle: "short", timeStyle: "medium", timeZone: "Asia/Ho_Chi_Minh",
});
const STATUS_TEXT = {
  met: "Đạt (met)", not_met: "Chưa đạt (not met)", no_data: "Chưa có dữ liệu (no data)",
  no_target: "Không có mục tiêu (no target)",
};
// States beside the freshness (OK, LATE, SILENT are shown as they are).
const HEALTH_TEXT = {
  NOT_CONSUMED: "Chưa thu thập (not collected)",
  NOT_EXPECTED: "Không theo dõi (not expected)",
};
const WINDOW_TEXT = { hour: "Giờ (hour)", day: "Ngày (day)", month: "Tháng (month)" };
const TREND_TEXT = { up: "▲", down: "▼", flat: "■" };
const sparklines = new Map();
let seriesChart = null;
let selectedKpi = null;
let catalogue = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function formatValue(value) {
  return value === null || value === undefined ? "–" : numberVi.format(value);
}

function windowLabel(kpi, point) {
  const start = new Date(point.window_start);
  const opts = { timeZone: "Asia/Ho_Chi_Minh" };
  if (kpi.window === "month") return start.toLocaleDateString("vi-VN", { ...opts, month: "2-digit", year: "numeric" });
  if (kpi.window === "day") return start.toLocaleDateString("vi-VN", { ...opts, day: "2-digit", month: "2-digit", year: "numeric" });
  return start.toLocaleString("vi-VN", { ...opts, day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" });
}

function targetText(kpi) {
  if (!kpi.target) return "Mục tiêu (target): –";
  const sign = kpi.target.direction === "gte" ? "≥" : "≤";
  return `Mục tiêu (target): ${sign} ${numberVi.format(kpi.target.value)} ${kpi.unit}`;
}

function buildTile(kpi) {
  const tile = el("article", { class: "tile", "data-kpi-id": kpi.id, tabindex: "0" },
    el("div", { class: "title-vi", text: kpi.title_vi }),
    el("div", { class: "title-en", text: kpi.title_en }),
    el("div", {}, el("span", { class: "kpi-value" }), el("span", { class: "kpi-unit", text: kpi.unit })),
    el("div", { class: "meta" }, el("span", { class: "kpi-target" }), el("span", { class: "badge kpi-status" })),
    el("div", { class: "kpi-period" }),
    el("div", { class: "meta" }, el("span", { class: "kpi-window" }), el("span", { class: "kpi-trend" })),
    el("div", { class: "kpi-backfill", hidden: "" },
      el("span", { class: "backfill-text" }), el("progress", { class: "backfill-bar", max: "1" })),
    el("canvas", { class: "sparkline", height: "42" }));
  tile.addEventListener("click", () => selectKpi(kpi.id));
  return tile;
}

function periodLabel(period) {
  if (!period) return "";
  const [year, rest] = period.period.split("-");
  if (period.kind === "year") return `Năm ${year} (year ${year})`;
  if (period.kind === "quarter") return `Quý ${rest.slice(1)}/${year} (${rest} ${year})`;
  return `Tháng ${Number(rest)}/${year} (month ${period.period})`;
}

function updateTile(tile, kpi) {
  const current = kpi.current;
  // Met / not met: the target over its period (month, quarter or year) holding the latest data.
  const status = kpi.status || current.status;
  tile.className = `tile status-${status}` + (kpi.id === selectedKpi ? " selected" : "");
  tile.dataset.status = status;
  tile.querySelector(".kpi-value").textContent = formatValue(current.value);
  tile.querySelector(".kpi-target").textContent = targetText(kpi);
  const badge = tile.querySelector(".kpi-status");
  badge.className = `badge kpi-status ${status}`;
  badge.textContent = STATUS_TEXT[status] || status;
  const period = tile.querySelector(".kpi-period");
  period.textContent = kpi.target && kpi.period
    ? `Đánh giá (assessed over) ${periodLabel(kpi.period)}: ${formatValue(kpi.period.value)} ${kpi.unit}` : "";
  const open = current.closed ? "đã chốt (final)" : "đang mở (open)";
  tile.querySelector(".kpi-window").textContent = `${WINDOW_TEXT[kpi.window]} ${windowLabel(kpi, current)} · ${open}`;
  const trend = tile.querySelector(".kpi-trend");
  trend.className = `kpi-trend trend-${kpi.trend || "none"}`;
  trend.textContent = kpi.trend && kpi.previous
    ? `${TREND_TEXT[kpi.trend]} so với kỳ trước (vs previous) ${formatValue(kpi.previous.value)}` : "";
  updateBackfill(tile.querySelector(".kpi-backfill"), kpi.backfill);
  drawSparkline(tile.querySelector("canvas"), kpi);
}

function updateBackfill(box, backfill) {
  box.hidden = !backfill;
  if (!backfill) return;
  const percent = numberVi.format(Math.floor(backfill.progress * 1000) / 10);
  box.querySelector(".backfill-text").textContent = `Đang tính lại từ đầu (backfilling) ${percent} % · `
    + `${numberVi.format(backfill.records_done)} / ${numberVi.format(backfill.records_total)}`;
  box.querySelector(".backfill-bar").value = backfill.progress;
}

function drawSparkline(canvas, kpi) {
  const values = kpi.history.map((p) => p.value);
  const labels = kpi.history.map((p) => windowLabel(kpi, p));
  let chart = sparklines.get(kpi.id);
  if (!chart) {
    chart = new Chart(canvas, {
      type: "line",
      data: { labels, datasets: [{ data: values, borderColor: "#1a56a8", borderWidth: 1.5, pointRadius: 2, spanGaps: true, tension: 0.25 }] },
      options: { responsive: false, animation: false, plugins: { legend: { display: false }, tooltip: { enabled: false } }, scales: { x: { display: false }, y: { display: false } } },
    });
    sparklines.set(kpi.id, chart);
    return;
  }
  chart.data.labels = labels;
  chart.data.datasets[0].data = values;
  chart.update("none");
}

function renderKpis(data) {
  catalogue = data;
  const box = document.getElementById("kpi-tiles");
  const select = document.getElementById("series-kpi");
  for (const kpi of data.kpis) {
    let tile = box.querySelector(`[data-kpi-id="${CSS.escape(kpi.id)}"]`);
    if (!tile) {
      tile = buildTile(kpi);
      box.append(tile);
      select.append(el("option", { value: kpi.id, text: `${kpi.title_vi} (${kpi.title_en})` }));
    }
    updateTile(tile, kpi);
  }
  renderScorecard(data.kpis);
  if (!selectedKpi && data.kpis.length) selectKpi(data.kpis[0].id);
  else if (selectedKpi) loadSeries();
  document.getElementById("updated-at").textContent = timeVi.format(new Date(data.generated_at));
}

// The same tally as GET /v1/scorecard: every KPI with a target is one target, met or not.
function renderScorecard(kpis) {
  const withTarget = kpis.filter((k) => k.target);
  const tally = (items) => ({ met: items.filter((k) => k.status === "met").length, total: items.length,
    missed: items.filter((k) => k.status !== "met").map((k) => k.title_vi) });
  const groups = { overall: tally(withTarget) };
  for (const group of ["digital_government", "digital_economy", "digital_society"]) {
    groups[group] = tally(withTarget.filter((k) => k.group === group));
  }
  for (const card of document.querySelectorAll(".score-card")) {
    const found = groups[card.dataset.group];
    card.querySelector(".score-value").textContent = `${found.met}/${found.total}`;
    let missed = card.querySelector(".score-missed");
    if (!missed) { missed = el("div", { class: "score-missed" }); card.append(missed); }
    missed.textContent = found.missed.length ? `Chưa đạt (not met): ${found.missed.join(", ")}` : "";
  }
}

function previousMonth() {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Ho_Chi_Minh", year: "numeric", month: "2-digit" })
    .format(new Date()).split("-").map(Number);
  const [year, month] = parts[1] === 1 ? [parts[0] - 1, 12] : [parts[0], parts[1] - 1];
  return `${year}-${String(month).padStart(2, "0")}`;
}

function setupReport() {
  const input = document.getElementById("report-month");
  const xlsx = document.getElementById("report-xlsx");
  const form = document.getElementById("report-form");
  input.value = previousMonth();
  const sync = () => {
    const period = encodeURIComponent(input.value);
    form.action = `/v1/reports/${period}`;
    xlsx.href = `/v1/reports/${period}?format=xlsx`;
  };
  input.addEventListener("change", sync);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (input.value) window.open(`/v1/reports/${encodeURIComponent(input.value)}?format=html`, "_blank");
  });
  sync();
}

function selectKpi(id) {
  selectedKpi = id;
  document.getElementById("series-kpi").value = id;
  const dimension = document.getElementById("series-dimension");
  dimension.replaceChildren(el("option", { value: "", text: "Toàn tỉnh (whole province)" }));
  for (const tile of document.querySelectorAll(".tile")) {
    tile.classList.toggle("selected", tile.dataset.kpiId === id);
  }
  loadSeries();
}

async function loadSeries() {
  if (!selectedKpi) return;
  const kpi = catalogue.kpis.find((k) => k.id === selectedKpi);
  // The filter is by today's unit (current_unit); old codes are mapped by the collector.
  const unit = document.getElementById("series-dimension").value;
  const query = unit ? `?current_unit=${encodeURIComponent(unit)}` : "";
  const response = await fetch(`/v1/kpis/${encodeURIComponent(selectedKpi)}/series${query}`);
  if (!response.ok) return;
  const series = await response.json();
  fillUnits(series);
  drawSeries(kpi, series);
}

function fillUnits(series) {
  const dimension = document.getElementById("series-dimension");
  const known = new Set([...dimension.options].map((o) => o.value));
  const units = (series.current_units || {}).current_unit;
  const sorted = Object.entries(units || {}).sort(([, a], [, b]) => a.localeCompare(b, "vi"));
  for (const [value, name] of sorted) {
    if (!known.has(value)) dimension.append(el("option", { value, text: name }));
  }
  document.getElementById("dimension-label").hidden = !units;
}

function drawSeries(kpi, series) {
  const labels = series.points.map((p) => windowLabel(kpi, p));
  const datasets = [{ label: `${series.title_vi} (${series.title_en})`, data: series.points.map((p) => p.value), borderColor: "#1a56a8", backgroundColor: "rgba(26,86,168,.15)", fill: true, spanGaps: true, tension: 0.2 }];
  if (series.target) {
    datasets.push({ label: "Mục tiêu (target)", data: series.points.map(() => series.target.value), borderColor: "#c5221f", borderDash: [6, 4], pointRadius: 0, fill: false });
  }
  if (!seriesChart) {
    seriesChart = new Chart(document.getElementById("series-chart"), {
      type: "line", data: { labels, datasets },
      options: { maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, title: { display: true, text: series.unit } } } },
    });
    return;
  }
  seriesChart.data.labels = labels;
  seriesChart.data.datasets = datasets;
  seriesChart.options.scales.y.title.text = series.unit;
  seriesChart.update("none");
}

function ageText(iso) {
  if (!iso) return "chưa bao giờ (never)";
  return timeVi.format(new Date(iso));
}

function renderHealth(data) {
  const rows = data.sources.map((s) => el("tr", { class: `status-${s.status}`, "data-source-id": s.id },
    el("td", {}, el("div", { text: s.name || s.id }), el("div", { class: "en", text: s.registered ? s.id : `${s.id} – chưa đăng ký (not registered)` })),
    el("td", { text: s.topic || "–" }),
    el("td", { text: s.cadence || "–" }),
    el("td", {}, el("span", { class: `pill status-${s.status} source-status`, "data-status": s.status,
      text: HEALTH_TEXT[s.status] || s.status })),
    el("td", { text: ageText(s.last_event_at) }),
    el("td", { text: numberVi.format(s.events_per_minute) }),
    el("td", { text: numberVi.format(s.events_total) }),
    el("td", { text: numberVi.format(s.rejected) }),
    el("td", { text: s.lag_records === null ? "–" : `${numberVi.format(s.lag_records)} / ${numberVi.format(s.lag_seconds)} s` })));
  document.getElementById("health-rows").replaceChildren(...rows);
  const topics = data.topics.map((t) => el("tr", { "data-topic": t.topic },
    el("td", { text: t.topic }),
    el("td", { text: `${numberVi.format(t.lag_records)} / ${numberVi.format(t.lag_seconds)} s` }),
    el("td", { class: "poison", text: Object.entries(t.poison).map(([k, v]) => `${k}: ${v}`).join(", ") || "0" })));
  document.getElementById("topic-rows").replaceChildren(...topics);
}

function setConnection(online) {
  const box = document.getElementById("connection");
  box.className = `connection ${online ? "online" : "offline"}`;
  box.dataset.state = online ? "online" : "offline";
  document.getElementById("connection-text").textContent = online
    ? "Trực tiếp (live)" : "Mất kết nối, đang thử lại (disconnected, retrying)";
}

// Signed out (session ended, token revoked or expired): go to the sign-in page.
function signedOut(response) {
  if (response.status !== 401) return false;
  window.location.assign("/login");
  return true;
}

function connect() {
  const events = new EventSource("/v1/stream");
  events.addEventListener("open", () => setConnection(true));
  events.addEventListener("error", () => {
    setConnection(false);
    fetch("/v1/scorecard").then(signedOut, () => {});
  });
  events.addEventListener("kpis", (e) => renderKpis(JSON.parse(e.data)));
  events.addEventListener("health", (e) => renderHealth(JSON.parse(e.data)));
}

async function start() {
  setupReport();
  document.getElementById("series-kpi").addEventListener("change", (e) => selectKpi(e.target.value));
  document.getElementById("series-dimension").addEventListener("change", () => loadSeries());
  const [kpis, health] = await Promise.all([fetch("/v1/kpis"), fetch("/v1/sources/health")]);
  if (signedOut(kpis)) return;
  if (kpis.ok) renderKpis(await kpis.json());
  if (health.ok) renderHealth(await health.json());
  connect();
}

start();
