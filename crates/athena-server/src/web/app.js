// The timeline page: reads the recall API (/v1/…) of the server it came from. Filters live in
// the page's URL, so a view can be bookmarked or shared; "More" follows the API's cursor.
// `?related=SOURCE/ID` shows the events related to one (an expanded event links there).
"use strict";

const FILTERS = ["q", "source", "kind", "outcome", "actor", "person", "since", "until"];
const PAGE = 50;
const form = document.getElementById("filters");
const list = document.getElementById("events");
const more = document.getElementById("more");
const status = document.getElementById("status");
const chart = document.getElementById("chart");
let nextCursor = null;
let shown = 0;

// "1 event", "2 events": every count the page writes goes through here.
function plural(n, noun) { return `${n} ${noun}${n === 1 ? "" : "s"}`; }

// A source keeps its colour whatever the filters: a hash of its id picks it.
const COLOURS = ["#3056d3", "#e07b39", "#2f9e6e", "#b8448a", "#8a6d1d", "#4aa3c9", "#7a5cc4", "#c94a4a", "#5c7c2f", "#d4a017"];
function colour(source) {
  let h = 2166136261;
  for (const ch of source) h = Math.imul(h ^ ch.codePointAt(0), 16777619);
  return COLOURS[(h >>> 0) % COLOURS.length];
}

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
  const related = el("a", { class: "related-link", href: "?related=" + encodeURIComponent(e.source_id + "/" + e.id) }, "Related events");
  box.append(el("p", {}, related));
  const provenance = { source_id: e.source_id, source_type: e.source_type, id: e.id, outcome: e.outcome };
  box.append(el("pre", { class: "context" }, JSON.stringify({ ...provenance, context: e.context, metadata: e.metadata }, null, 2)));
  return box;
}

// How an event ended, as a badge: the HTTP status when there is one ("500"), else the word.
const OUTCOMES = { success: "ok", failure: "failed", client_error: "client error", server_error: "server error" };
function badge(e) {
  if (!e.outcome) return null;
  const status = e.metadata && e.metadata.status;
  const text = status != null ? `${status} ${OUTCOMES[e.outcome] || e.outcome}` : OUTCOMES[e.outcome] || e.outcome;
  return el("span", { class: "outcome " + e.outcome, title: "outcome: " + e.outcome }, text);
}

function item(e, via) {
  const tags = el("span", { class: "tags" }, el("span", { style: `--swatch: ${colour(e.source_id)}`, class: "source" }, e.source_id), el("span", {}, e.kind));
  if (e.actor) tags.append(el("span", {}, e.actor));
  for (const link of via || []) tags.append(el("span", { class: "via", title: link.role }, link.thing));
  const head = el("div", { class: "event-head", tabindex: "0", role: "button", "aria-expanded": "false" },
    el("time", { datetime: e.occurred_at }, when(e.occurred_at)),
    badge(e) || el("span", { class: "outcome none" }),
    el("span", { class: "event-title" }, e.title),
    tags);
  const li = el("li", { class: "event", "data-source": e.source_id, "data-id": e.id, "data-outcome": e.outcome || "" }, head);
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
  status.dataset.count = shown;
  const note = body.note ? " (" + body.note + ")" : "";
  status.textContent = shown === 0 ? "No events match." + (body.note ? " " + body.note[0].toUpperCase() + body.note.slice(1) + "." : "")
    : nextCursor ? `${plural(shown, "event")} shown, more to load, newest first`
    : body.match === "any" ? `${plural(shown, "event")}${note}`
    : `${plural(shown, "event")}, newest first`;
}

more.addEventListener("click", () => page(nextCursor).catch(fail));

// ---- the chart: stacked bars on a time axis, a colour per source ----
// The bucket follows the range shown, so that the chart is tens to a few hundred bars, not
// thousands a pixel wide: hours up to 3 days, days up to 6 months, weeks up to 3 years, and
// calendar months beyond.
const DAY = 24 * 3600 * 1000;
const WIDTHS = { hour: 3600 * 1000, day: DAY, week: 7 * DAY, month: 31 * DAY };

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

// A tick on the time axis: as short as the bucket allows.
function tickLabel(ms, bucket) {
  const iso = new Date(ms).toISOString();
  if (bucket === "hour") return iso.slice(5, 13).replace("T", " ") + ":00";
  return bucket === "month" ? iso.slice(0, 7) : iso.slice(0, 10);
}

// Round numbers for the count axis: 0, a step, …, at or above the tallest bar.
function countTicks(max) {
  const rough = max / 4;
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(rough, 1))));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * p).find((s) => s >= rough));
  const ticks = [];
  for (let v = 0; v < max + step; v += step) ticks.push(v);
  return ticks;
}

const SVG = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

function drawChart(counts, bucket) {
  chart.replaceChildren();
  chart.dataset.bucket = bucket;
  const total = counts.reduce((sum, c) => sum + c.count, 0);
  chart.dataset.total = total;
  chart.setAttribute("aria-label", `Events per ${bucket} and source: ${plural(total, "event")}`);
  if (!counts.length) return;
  const sources = [...new Set(counts.map((c) => c.source))].sort();
  const starts = [...new Set(counts.map((c) => c.start))].sort();
  const totals = new Map(starts.map((d) => [d, 0]));
  for (const c of counts) totals.set(c.start, totals.get(c.start) + c.count);
  const ticks = countTicks(Math.max(...totals.values()));
  const top = ticks[ticks.length - 1];
  // Plot area inside a fixed 1000×200 drawing, room left for counts and below for times.
  const [W, H, L, R, T, B] = [1000, 200, 44, 8, 8, 22];
  const width = WIDTHS[bucket];
  const last = Date.parse(starts[starts.length - 1]) + width;
  // At least 30 buckets wide, so a few buckets stay bars; the newest at the right.
  const first = Math.min(Date.parse(starts[0]), last - 30 * width);
  const x = (ms) => L + ((ms - first) / (last - first)) * (W - L - R);
  const y = (n) => H - B - (n / top) * (H - T - B);
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  for (const v of ticks) {
    svg.append(svgEl("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: v ? "grid" : "axis-line" }));
    svg.append(svgEl("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, String(v)));
  }
  const n = 6;
  for (let i = 0; i <= n; i++) {
    const ms = first + ((last - first) * i) / n;
    const anchor = i === 0 ? "start" : i === n ? "end" : "middle";
    svg.append(svgEl("line", { x1: x(ms), x2: x(ms), y1: H - B, y2: H - B + 4, class: "axis-line" }));
    svg.append(svgEl("text", { x: x(ms), y: H - 4, "text-anchor": anchor, class: "tick" }, tickLabel(ms, bucket)));
  }
  const barWidth = Math.max(x(first + width) - x(first), 1);
  for (const start of starts) {
    const x0 = x(Date.parse(start));
    let below = 0;
    for (const c of counts.filter((c) => c.start === start)) {
      const rect = svgEl("rect", {
        x: x0 + barWidth * 0.1, width: barWidth * 0.8,
        y: y(below + c.count), height: y(below) - y(below + c.count),
        fill: colour(c.source),
      });
      rect.append(svgEl("title", {}, `${bucketLabel(start, bucket)} · ${c.source}: ${plural(c.count, "event")}`));
      svg.append(rect);
      below += c.count;
    }
  }
  const caption = el("div", { class: "axis" },
    el("span", { class: "total" }, `${plural(total, "event")} counted per ${bucket}`));
  const legend = el("div", { class: "legend" });
  for (const s of sources) legend.append(el("span", { style: `--swatch: ${colour(s)}` }, s));
  chart.append(svg, caption, legend);
}

async function timeline() {
  // The chart counts what the list shows: every filter, the search included.
  const params = filters();
  // The range shown runs from the oldest to the newest event these filters count: one
  // event each way, then the counts in the bucket that range calls for.
  const ends = await Promise.all(["asc", "desc"].map((order) =>
    api("v1/events", [...params, ["order", order], ["limit", "1"]])));
  const [oldest, newest] = ends.map((page) => page.events[0]);
  const span = oldest && newest ? Math.abs(Date.parse(newest.occurred_at) - Date.parse(oldest.occurred_at)) : 0;
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
    select.append(el("option", { value: s.id }, `${s.id} (${plural(s.events, "event")})`));
  }
  select.value = chosen;
  // The kinds stored, offered as the kind filter is typed.
  const kinds = document.getElementById("kinds");
  const known = new Set([...kinds.options].map((o) => o.value));
  for (const k of (body.sources || []).flatMap((s) => s.kinds || [])) {
    if (known.has(k.kind)) continue;
    known.add(k.kind);
    kinds.append(el("option", { value: k.kind }));
  }
  drawHealth(body.sources || []);
}

// ---- each source's health: its last run, how it ended, and its error ----
function ago(iso) {
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (isNaN(s)) return iso;
  if (s < 90) return "just now";
  if (s < 90 * 60) return plural(Math.round(s / 60), "minute") + " ago";
  if (s < 36 * 3600) return plural(Math.round(s / 3600), "hour") + " ago";
  return plural(Math.round(s / 86400), "day") + " ago";
}

function drawHealth(list) {
  const strip = document.getElementById("health");
  strip.replaceChildren();
  for (const s of list) {
    const state = s.last_status || "never run";
    const box = el("div", { class: "health", "data-source": s.id, "data-status": state, style: `--swatch: ${colour(s.id)}` },
      el("span", { class: "health-source" }, s.id),
      el("span", { class: "health-status" }, state),
      s.last_sync ? el("time", { datetime: s.last_sync, title: when(s.last_sync) }, ago(s.last_sync)) : null,
      el("span", { class: "health-events" }, plural(s.events, "event")),
      s.dead_letters ? el("span", { class: "health-dead" }, plural(s.dead_letters, "dead letter")) : null,
      s.last_error ? el("span", { class: "health-error", title: s.last_error }, (s.error_kind ? s.error_kind + ": " : "") + s.last_error) : null);
    strip.append(box);
  }
}

function fail(err) {
  status.textContent = "Error: " + err.message;
  status.classList.add("error");
}

// ---- the events related to one, across sources ----
async function showRelated(which) {
  const cut = which.indexOf("/");
  const source = which.slice(0, cut), id = which.slice(cut + 1);
  const path = "v1/events/" + encodeURIComponent(source) + "/" + encodeURIComponent(id) + "/related";
  const body = await api(path, [["limit", "100"]]);
  const things = body.things.map((t) => `${t.role} ${t.thing}`).join(", ");
  const head = el("li", { class: "related-to" }, "Related to ", el("strong", {}, body.event.title),
    " (" + body.event.source_id + ")", things ? el("span", { class: "things" }, " — " + things) : null);
  list.append(head);
  for (const r of body.related) list.append(item(r.event, r.via));
  shown = body.related.length;
  more.hidden = true;
  status.dataset.count = shown;
  status.textContent = shown === 0 ? "No related events." : `${plural(shown, "related event")}, newest first`;
}

// The people, offered as the person filter is typed.
async function people() {
  const body = await api("v1/people");
  const box = document.getElementById("people");
  for (const p of body.people || []) {
    box.append(el("option", { value: p.id }, p.name ? `${p.name} (${p.handles.join(", ")})` : p.handles.join(", ")));
  }
}

async function load() {
  list.replaceChildren();
  shown = 0;
  status.classList.remove("error");
  status.textContent = "Loading…";
  try {
    const related = new URLSearchParams(location.search).get("related");
    await (related ? showRelated(related) : Promise.all([page(null), timeline()]));
    document.body.dataset.loaded = "true";
  } catch (err) {
    fail(err);
  }
}

fillForm();
people().catch(() => {});
sources().catch(fail).then(load);
