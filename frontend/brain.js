// The live actor tree, from GET /brain/state once a second: the machines and their model
// holders (as the model directory tells them, eyes or none), then each eye's session and its
// cortexes (as its Session tells them), coloured by state; and a small latency histogram per model.

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const ROW = 54, BOX_W = 230, BOX_H = 44, INDENT = 40;

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  parent.append(node);
  return node;
}

function box(svg, x, y, kind, title, ...details) {
  const g = el("g", { class: `node ${kind}`, transform: `translate(${x},${y})` }, svg);
  el("rect", { width: BOX_W, height: BOX_H + 14 * (details.length - 1) }, g);
  el("text", { x: 10, y: 18 }, g).textContent = title;
  details.forEach((detail, i) => { el("text", { x: 10, y: 35 + 14 * i, class: "small" }, g).textContent = detail; });
  return g;
}

function ms(value) { return value === null ? "–" : `${Math.round(value)}`; }

function clip(text, length = 36) { return text.length > length ? `${text.slice(0, length - 1)}…` : text; }

// A holder's state, in the colours of a cortex's: ready is running; loading, starting; lost or failed, failed.
const HOLDER_CLASS = { ready: "running", loading: "starting", lost: "failed", failed: "failed" };

function holderBox(svg, x, y, holder) {
  const pss = holder.pss_mb === null ? "" : ` · ${Math.round(holder.pss_mb)} MB`;
  const moving = holder.incoming ? " (moving here)" : "";
  let title = `holder · ${holder.state}${moving}`, detail;
  if (holder.state === "ready") {
    title = `holder pid ${holder.pid}${pss}${moving}`;
    const devices = [...new Set(Object.values(holder.devices))].join(", ");
    detail = holder.batch_mean === null ? `${devices} · no batch yet`
      : `${devices} · batch ${holder.batch_mean} (max ${holder.batch_max}) · ${holder.queued} queued`;
  } else if (holder.state === "loading") {
    detail = "loading its models…";
  } else {
    detail = clip(holder.error || holder.last_lost);
  }
  const details = [clip(holder.models.join(", ")), detail];
  if (holder.lost) details.push(`re-created ${holder.lost}× (hover: why)`);
  const g = box(svg, x, y, HOLDER_CLASS[holder.state] || "plain", title, ...details);
  const why = [holder.models.join(", "), holder.error, holder.last_lost && `Last lost: ${holder.last_lost}.`];
  el("title", {}, g).textContent = why.filter(Boolean).join("\n");
  return details.length;
}

function draw(state) {
  const svg = $("tree");
  svg.replaceChildren();
  let y = 4;
  const line = (x1, y1, x2, y2) => el("path", { class: "edge", d: `M${x1},${y1} V${y2} H${x2}` }, svg);
  // With [mqtt] set: whether the house hears it ("MQTT connected", "MQTT unreachable").
  const home = state.home ? ` · MQTT ${state.home.state}` : "";
  const eyes = `${state.sessions.length} eye${state.sessions.length === 1 ? "" : "s"}`;
  box(svg, 0, y, state.home && state.home.state !== "connected" ? "failed" : "plain", "brain", `up ${state.uptime_s} s · ${eyes}${home}`);
  const root = y;
  y += ROW;
  // The model directory places holders on hosts: hosts hang under it, holders under them.
  line(20, root + BOX_H, INDENT, y + BOX_H / 2);
  const holders = state.holders.length;
  box(svg, INDENT, y, "plain", "model directory", `${holders} holder${holders === 1 ? "" : "s"} on ${state.hosts.length} host${state.hosts.length === 1 ? "" : "s"}`);
  const directoryY = y;
  y += ROW;
  for (const host of state.hosts) {
    line(INDENT + 20, directoryY + BOX_H, 2 * INDENT, y + BOX_H / 2);
    const hostState = state.host_states[host];
    box(svg, 2 * INDENT, y, hostState === "lost" ? "failed" : "plain", host, `host · ${hostState}`);
    const hostY = y;
    y += ROW;
    for (const holder of state.holders.filter((h) => h.host === host)) {
      line(2 * INDENT + 20, hostY + BOX_H, 3 * INDENT, y + BOX_H / 2);
      const lines = holderBox(svg, 3 * INDENT, y, holder);
      y += ROW + 14 * (lines - 1);
    }
  }
  for (const session of state.sessions) {
    line(20, root + BOX_H, INDENT, y + BOX_H / 2);
    box(svg, INDENT, y, "plain", `eye ${session.eye}`, `${session.remote} · up ${session.uptime_s} s`);
    const sessionY = y;
    let x = 2 * INDENT;
    y += ROW;
    for (const cortex of session.cortexes) {
      const cy = y;
      line(INDENT + 20, sessionY + BOX_H, x, cy + BOX_H / 2);
      const restarts = cortex.restarts ? ` · ${cortex.restarts} restart${cortex.restarts === 1 ? "" : "s"}` : "";
      const g = box(svg, x, cy, cortex.state, `${cortex.name} · ${cortex.state}${restarts}`,
        `${cortex.outputs_per_s}/s · ${ms(cortex.p50_ms)} / ${ms(cortex.p95_ms)} ms · ${cortex.frames_dropped} dropped`);
      if (cortex.last_error) el("title", {}, g).textContent = cortex.last_error;
      y += ROW;
    }
  }
  svg.setAttribute("viewBox", `0 0 ${3 * INDENT + BOX_W + 10} ${y}`);
  svg.style.height = `${y}px`;
  svg.style.maxWidth = `${3 * INDENT + BOX_W + 10}px`;
  drawLatencies(state);
  const list = $("warnings");
  list.replaceChildren();
  for (const warning of state.warnings.slice().reverse()) {
    const li = document.createElement("li");
    li.className = "error";
    li.innerHTML = '<span class="who"></span><span class="what"></span>';
    li.querySelector(".who").textContent = warning.cortex;
    li.querySelector(".what").textContent = warning.text;
    list.append(li);
  }
  if (!state.warnings.length) list.innerHTML = '<li class="status"><span class="what">No warnings.</span></li>';
}

// One bar chart per model: how many of its last answers took ≤10 ms, ≤25 ms, … and more.
function drawLatencies(state) {
  const list = $("latencies");
  list.replaceChildren();
  const W = 240, H = 70, BASE = 52;
  const labels = [...state.histogram_ms.map((edge) => (edge >= 1000 ? `${edge / 1000}s` : `${edge}`)), "more"];
  for (const model of state.models) {
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    const answered = model.histogram.some((count) => count > 0);
    const latency = answered ? `p50 ${ms(model.p50_ms)} / p95 ${ms(model.p95_ms)} ms` : `${model.state}, no answer yet`;
    caption.textContent = `${model.name} · ${latency} · ${model.host}`;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" }, figure);
    svg.setAttribute("aria-label", `Latency of ${model.name}: ${model.histogram.join(", ")} answers per bin`);
    const top = Math.max(1, ...model.histogram);
    const step = W / model.histogram.length;
    model.histogram.forEach((count, i) => {
      const h = Math.round((count / top) * (BASE - 6));
      el("rect", { class: "bar", x: i * step + 3, y: BASE - h, width: step - 6, height: h }, svg);
      el("text", { class: "tick", x: i * step + step / 2, y: H - 4, "text-anchor": "middle" }, svg).textContent = labels[i];
    });
    figure.prepend(caption);
    list.append(figure);
  }
  if (!state.models.length) list.textContent = "This brain holds no model.";
}

async function refresh() {
  try {
    const response = await fetch(`brain/state${location.search}`);
    if (!response.ok) throw new Error((await response.text()).trim() || `HTTP ${response.status}`);
    const state = await response.json();
    draw(state);
    const eyes = state.sessions.length;
    $("status").textContent = `Live: ${eyes} eye${eyes === 1 ? "" : "s"}, ${state.holders.length} model holder${state.holders.length === 1 ? "" : "s"}; updated every second.`;
    $("status").dataset.tone = "ok";
  } catch (error) {
    $("status").textContent = `Cannot read the brain's state (${error.message}); retrying every second.`;
    $("status").dataset.tone = "error";
  }
}

refresh();
setInterval(refresh, 1000);
