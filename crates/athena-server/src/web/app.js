// The timeline page: reads the recall API (/v1/…) of the server it came from. Filters live in
// the page's URL, so a view can be bookmarked or shared; "More" follows the API's cursor.
"use strict";

const FILTERS = ["q", "source", "kind", "actor", "since", "until"];
const PAGE = 50;
const form = document.getElementById("filters");
const list = document.getElementById("events");
const more = document.getElementById("more");
const status = document.getElementById("status");
const chart = document.getElementById("chart");
let nextCursor = null;
let shown = 0;

// ---- the API, with the token asked for once when the server wants one ----
function token() { return sessionStorage.getItem("athena-token"); }

async function askToken() {
  const dialog = document.getElementById("token");
  dialog.showModal();
  await new Promise((done) => dialog.addEventListener("close", done, { once: true }));
  const value = dialog.querySelector("input").value.trim();
  if (value) sessionStorage.setItem("athena-token", value);
  return Boolean(value);
}

async function api(path, params) {
  const url = new URL(path, location.href);
  for (const [k, v] of params || []) url.searchParams.append(k, v);
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = token() ? { Authorization: "Bearer " + token() } : {};
    const response = await fetch(url, { headers });
    if (response.status === 401 && attempt === 0 && (await askToken())) continue;
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || response.status + " " + response.statusText);
    return body;
  }
  throw new Error("the API token was not accepted");
}

// ---- filters <-> URL ----
function filters() {
  const out = [];
  const here = new URLSearchParams(location.search);
  for (const name of FILTERS) {
    const v = (here.get(name) || "").trim();
    if (v) out.push([name, v]);
  }
  return out;
}

function fillForm() {
  const here = new URLSearchParams(location.search);
  for (const name of FILTERS) form.elements[name].value = here.get(name) || "";
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const v = form.elements[name].value.trim();
    if (v) params.set(name, v);
  }
  history.pushState(null, "", "?" + params.toString());
  load();
});
window.addEventListener("popstate", () => { fillForm(); load(); });

// ---- events ----
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function when(iso) {
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toISOString().replace("T", " ").slice(0, 19) + "Z";
}

function details(e) {
  const box = el("div", { class: "details" });
  if (e.body) box.append(el("pre", { class: "body" }, e.body));
  if (e.url) {
    const a = el("a", { href: e.url, rel: "noopener noreferrer", target: "_blank" }, e.url);
    box.append(el("p", {}, a));
  }
  const provenance = { source_id: e.source_id, source_type: e.source_type, id: e.id, outcome: e.outcome };
  box.append(el("pre", { class: "context" }, JSON.stringify({ ...provenance, context: e.context, metadata: e.metadata }, null, 2)));
  return box;
}

function item(e) {
  const tags = el("span", { class: "tags" }, el("span", {}, e.source_id), el("span", {}, e.kind));
  if (e.actor) tags.append(el("span", {}, e.actor));
  const head = el("div", { class: "event-head", tabindex: "0", role: "button", "aria-expanded": "false" },
    el("time", { datetime: e.occurred_at }, when(e.occurred_at)),
    el("span", { class: "event-title" }, e.title),
    tags);
  const li = el("li", { class: "event", "data-source": e.source_id, "data-id": e.id }, head);
  const toggle = () => {
    const open = li.querySelector(".details");
    if (open) { open.remove(); head.setAttribute("aria-expanded", "false"); }
    else { li.append(details(e)); head.setAttribute("aria-expanded", "true"); }
  };
  head.addEventListener("click", toggle);
  head.addEventListener("keydown", (k) => { if (k.key === "Enter" || k.key === " ") { k.preventDefault(); toggle(); } });
  return li;
}

async function page(cursor) {
  const params = [...filters(), ["limit", String(PAGE)]];
  if (cursor) params.push(["cursor", cursor]);
  const body = await api("v1/events", params);
  for (const e of body.events) list.append(item(e));
  shown += body.events.length;
  nextCursor = body.next_cursor;
  more.hidden = !nextCursor;
  status.textContent = shown === 0 ? "No events match." : shown + (nextCursor ? "+" : "") + " events, newest first";
}

more.addEventListener("click", () => page(nextCursor).catch(fail));

// ---- the chart: one stacked bar per bucket, a colour per source ----
// The bucket follows the range shown, so that the chart is tens to a few hundred bars, not
// thousands a pixel wide: hours up to 3 days, days up to 6 months, weeks up to 3 years, and
// calendar months beyond.
const COLOURS = ["#3056d3", "#e07b39", "#2f9e6e", "#b8448a", "#8a6d1d", "#4aa3c9", "#7a5cc4", "#c94a4a"];
const DAY = 24 * 3600 * 1000;

function bucketFor(spanMs) {
  if (spanMs <= 3 * DAY) return "hour";
  if (spanMs <= 183 * DAY) return "day";
  if (spanMs <= 3 * 366 * DAY) return "week";
  return "month";
}

// How a bucket's start reads: its hour, day, week or month.
function bucketLabel(start, bucket) {
  switch (bucket) {
    case "hour": return start.slice(0, 13).replace("T", " ") + ":00";
    case "week": return "week of " + start.slice(0, 10);
    case "month": return start.slice(0, 7);
    default: return start.slice(0, 10);
  }
}

function drawChart(counts, bucket) {
  chart.replaceChildren();
  chart.dataset.bucket = bucket;
  chart.setAttribute("aria-label", `Events per ${bucket} and source`);
  if (!counts.length) return;
  const sources = [...new Set(counts.map((c) => c.source))].sort();
  const starts = [...new Set(counts.map((c) => c.start))].sort();
  const totals = new Map(starts.map((d) => [d, 0]));
  for (const c of counts) totals.set(c.start, totals.get(c.start) + c.count);
  const max = Math.max(...totals.values());
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  // At least 30 wide, so a few buckets stay bars; the newest at the right.
  const width = Math.max(starts.length, 30);
  const left = width - starts.length;
  svg.setAttribute("viewBox", `0 0 ${width} 100`);
  svg.setAttribute("preserveAspectRatio", "none");
  starts.forEach((start, i) => {
    const x = left + i;
    let y = 100;
    for (const c of counts.filter((c) => c.start === start)) {
      const h = (c.count / max) * 100;
      y -= h;
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", x + 0.1);
      rect.setAttribute("y", y);
      rect.setAttribute("width", 0.8);
      rect.setAttribute("height", h);
      rect.setAttribute("fill", COLOURS[sources.indexOf(c.source) % COLOURS.length]);
      const title = document.createElementNS(ns, "title");
      title.textContent = `${bucketLabel(start, bucket)} · ${c.source}: ${c.count}`;
      rect.append(title);
      svg.append(rect);
    }
  });
  const first = bucketLabel(starts[0], bucket);
  const last = bucketLabel(starts[starts.length - 1], bucket);
  const axis = el("div", { class: "axis" },
    el("span", {}, starts.length > 1 ? `${first} – ${last}, at most ${max} a ${bucket}` : `${first}: ${max}`));
  const legend = el("div", { class: "legend" });
  sources.forEach((s, i) => legend.append(el("span", { style: `--swatch: ${COLOURS[i % COLOURS.length]}` }, s)));
  chart.append(svg, axis, legend);
}

async function timeline() {
  const params = filters().filter(([k]) => k !== "q" && k !== "actor");
  // The range shown runs from the oldest to the newest event these filters count: one
  // event each way, then the counts in the bucket that range calls for.
  const ends = await Promise.all(["asc", "desc"].map((order) =>
    api("v1/events", [...params, ["order", order], ["limit", "1"]])));
  const [oldest, newest] = ends.map((page) => page.events[0]);
  const span = oldest && newest ? Date.parse(newest.occurred_at) - Date.parse(oldest.occurred_at) : 0;
  const bucket = bucketFor(span);
  const body = await api("v1/timeline", [...params, ["bucket", bucket]]);
  drawChart(body.counts || [], bucket);
}

// ---- sources for the filter ----
async function sources() {
  const body = await api("v1/sources");
  const select = form.elements.source;
  const chosen = new URLSearchParams(location.search).get("source") || "";
  for (const s of body.sources || []) {
    if ([...select.options].some((o) => o.value === s.id)) continue;
    select.append(el("option", { value: s.id }, `${s.id} (${s.events})`));
  }
  select.value = chosen;
}

function fail(err) {
  status.textContent = "Error: " + err.message;
  status.classList.add("error");
}

async function load() {
  list.replaceChildren();
  shown = 0;
  status.classList.remove("error");
  status.textContent = "Loading…";
  try {
    await Promise.all([page(null), timeline()]);
    document.body.dataset.loaded = "true";
  } catch (err) {
    fail(err);
  }
}

fillForm();
sources().catch(fail).then(load);
