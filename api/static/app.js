// GridWatch dashboard: live incident feed (SSE), territory tree, incident view with actions.
// Plain browser JavaScript, no build step. The API key comes from the URL (#key=…), or the
// form, and is kept in this browser's localStorage.
"use strict";

const SEVERITIES = ["informational", "low", "medium", "high", "critical"];
const LEVELS = ["grid worker", "community emergency manager", "emergency leadership group"];
const state = { key: null, alerts: new Map(), selected: null, source: null };

function keyFromPage() {
  const m = location.hash.match(/key=([^&]+)/);
  if (m) {
    localStorage.setItem("gridwatch-key", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);
  }
  return localStorage.getItem("gridwatch-key");
}

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { "X-API-Key": state.key, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  if (res.status === 401) { askForKey(); throw new Error("API key refused"); }
  if (!res.ok) throw new Error(`${res.status}: ${(await res.json()).detail}`);
  return res.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "");
const badge = (sev) => el("span", { class: `badge sev-${sev}` }, sev);

// -- feed ------------------------------------------------------------------------------------
function renderFeed() {
  const feed = document.getElementById("feed");
  const items = [...state.alerts.values()]
    .filter((a) => a.severity !== "informational")
    .sort((a, b) => (b.status !== "resolved") - (a.status !== "resolved")
      || SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) || b.id - a.id);
  feed.replaceChildren(...items.map((a) => el("li", {
    "data-id": a.id, "data-severity": a.severity,
    class: `status-${a.status}` + (a.id === state.selected ? " selected" : ""),
    onclick: () => select(a.id),
  }, badge(a.severity), el("strong", {}, a.title),
     el("div", { class: "meta" }, `#${a.id} · ${a.status} · opened ${time(a.opened_at)}`
       + ` · ${a.status === "open" ? "with the " + LEVELS[a.escalation_level] : ""}`))));
  document.getElementById("feed-count").textContent = `(${items.filter((a) => a.status !== "resolved").length} live)`;
}

async function loadFeed() {
  const page = await api("/api/v1/alerts?status=open&status=acknowledged&limit=200");
  for (const a of page.items) state.alerts.set(a.id, a);
  renderFeed();
}

function connectStream() {
  if (state.source) state.source.close();
  const src = new EventSource(`/api/v1/alerts/stream?api_key=${encodeURIComponent(state.key)}`);
  const badgeEl = document.getElementById("conn");
  src.onopen = () => { badgeEl.textContent = "live"; badgeEl.className = "conn on"; };
  src.onerror = () => { badgeEl.textContent = "reconnecting"; badgeEl.className = "conn off"; };
  src.addEventListener("incident", (ev) => {
    const { alert } = JSON.parse(ev.data);
    state.alerts.set(alert.id, alert);
    renderFeed();
    if (alert.id === state.selected) select(alert.id);
  });
  state.source = src;
}

// -- territory -------------------------------------------------------------------------------
function worst(status) {
  const open = SEVERITIES.filter((s) => status.open_incidents[s] > 0 && s !== "informational");
  return open.length ? open[open.length - 1] : (status.devices_offline ? "low" : "ok");
}

function treeNode(node) {
  const s = node.status;
  const li = el("li", {}, el("div", { class: "node", "data-code": node.code, onclick: (e) => expand(e, node, li) },
    el("span", { class: `dot sev-${worst(s)}` }), `${node.name}`,
    el("span", { class: "counts" }, `${s.devices_online + s.devices_offline + s.devices_unknown} devices`
      + (s.devices_offline ? `, ${s.devices_offline} offline` : ""))));
  return li;
}

async function expand(event, node, li) {
  event.stopPropagation();
  const open = li.querySelector("ul");
  if (open) { open.remove(); return; }
  if (node.level === "microgrid") return;
  const sub = await api(`/api/v1/territory?root=${node.code}&depth=1`);
  li.append(el("ul", {}, ...sub.children.map(treeNode)));
}

async function loadTree() {
  const root = await api("/api/v1/territory?depth=1");
  const tree = document.getElementById("tree");
  const top = treeNode(root);
  top.append(el("ul", {}, ...root.children.map(treeNode)));
  tree.replaceChildren(top);
}

// -- incident --------------------------------------------------------------------------------
async function act(id, action) {
  await api(`/api/v1/alerts/${id}/${action}`, { method: "POST", body: JSON.stringify({ note: `from the dashboard` }) });
  select(id);
}

function chart(points) {
  if (!points.length) return el("p", { class: "hint" }, "No readings in this window.");
  const w = 600, h = 140, xs = points.map((p) => Date.parse(p.t)), ys = points.map((p) => p.avg);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) || 1], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x) => ((x - x0) / Math.max(x1 - x0, 1)) * (w - 20) + 10;
  const sy = (y) => h - 10 - ((y - y0) / Math.max(y1 - y0, 1e-9)) * (h - 20);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`); svg.setAttribute("class", "chart");
  const line = document.createElementNS(svg.namespaceURI, "polyline");
  line.setAttribute("points", points.map((p, i) => `${sx(xs[i])},${sy(ys[i])}`).join(" "));
  line.setAttribute("fill", "none"); line.setAttribute("stroke", "#c62828"); line.setAttribute("stroke-width", "2");
  svg.append(line);
  return svg;
}

async function readingsChart(a) {
  const ev = a.evidence.find((e) => e.metric && e.device_id);
  if (!ev) return el("p", { class: "hint" }, "No telemetry behind this incident.");
  const at = Date.parse(a.opened_at);
  const q = `metric=${ev.metric}&since=${new Date(at - 30 * 60e3).toISOString()}&until=${new Date(at + 30 * 60e3).toISOString()}&bucket=1m`;
  try {
    const r = await api(`/api/v1/devices/${encodeURIComponent(ev.device_id)}/readings?${q}`);
    return el("div", {}, el("div", { class: "meta" }, `${ev.device_id} ${r.metric} (${r.unit}), ±30 min`), chart(r.points));
  } catch (e) { return el("p", { class: "hint" }, String(e.message)); }
}

async function select(id) {
  state.selected = id;
  renderFeed();
  const a = await api(`/api/v1/alerts/${id}`);
  state.alerts.set(a.id, a);
  const detail = document.getElementById("detail");
  detail.replaceChildren(
    el("h3", {}, badge(a.severity), a.title),
    el("div", { id: "status", class: "meta", "data-status": a.status },
      `#${a.id} · ${a.status} · opened ${time(a.opened_at)} · escalated to the ${LEVELS[a.escalation_level]}`
      + (a.assignee ? ` · assigned to ${a.assignee}` : "") + (a.reopened ? ` · re-opened ${a.reopened}×` : "")),
    el("div", { class: "actions" },
      el("button", { id: "ack", class: "primary", onclick: () => act(a.id, "acknowledge"), ...(a.status !== "open" ? { disabled: "" } : {}) }, "Acknowledge"),
      el("button", { id: "resolve", onclick: () => act(a.id, "resolve"), ...(a.status === "resolved" ? { disabled: "" } : {}) }, "Resolve")),
    el("h4", {}, "Readings around it"), await readingsChart(a),
    el("h4", {}, "Timeline"),
    el("ul", { class: "timeline" }, ...a.history.map((h) => el("li", { class: h.kind },
      el("span", { class: "meta" }, `${time(h.at)} ${h.kind} `), `${h.note || h.to_status}`, el("span", { class: "meta" }, ` — ${h.actor}`)))),
    el("h4", {}, `Devices (${a.affected_devices.length})`),
    el("table", {}, ...a.affected_devices.map((d) => el("tr", {}, el("td", {}, d.device_id), el("td", {}, d.device_type),
      el("td", {}, d.online === null ? "?" : d.online ? "online" : "offline")))),
    el("h4", {}, `Evidence (${a.evidence.length})`),
    el("table", {}, ...a.evidence.slice(0, 30).map((e) => el("tr", {}, el("td", {}, time(new Date(e.at * 1000).toISOString())),
      el("td", {}, e.device_id || e.gateway_id || e.scope), el("td", {}, `${e.source}: ${e.kind} ${e.code || ""}`),
      el("td", {}, e.metric ? `${e.metric}=${e.value}` : ""), el("td", {}, e.state)))),
  );
}

// -- start -----------------------------------------------------------------------------------
function askForKey() {
  const form = document.getElementById("keyform");
  form.hidden = false;
  form.onsubmit = (e) => {
    e.preventDefault();
    localStorage.setItem("gridwatch-key", document.getElementById("key").value.trim());
    location.reload();
  };
}

async function start() {
  state.key = keyFromPage();
  if (!state.key) { askForKey(); return; }
  connectStream();
  await Promise.all([loadFeed(), loadTree()]);
  setInterval(loadTree, 30000);
}

start();
