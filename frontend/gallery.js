// The gallery: shows the brain's pictures one at a time, sends camera snapshots while each is
// on screen, tells the brain which picture shows (gallery.look) and when the visit ends
// (gallery.done), then draws each picture's score and says the favourite.
// Wire protocol: docs/protocol.md; the scoring: docs/cortexes.md, "gallery".

import { cameraProblem } from "./camera.js";

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"), item: $("item"), caption: $("caption"), bar: $("progress-bar"), start: $("start"),
  step: $("step"), feeling: $("feeling"), video: $("preview"), cameraMessage: $("camera-message"),
  verdict: $("verdict"), chart: $("chart"), canvas: $("snapshot"),
};
const query = new URLSearchParams(location.search);
const LOOK_S = Math.min(Math.max(Number(query.get("look_s")) || 5, 1), 60); // ?look_s=: seconds a picture
const SNAPSHOT_MS = 200;
const SNAPSHOT_WIDTH = 480;
const state = { items: [], ws: null, ready: false, stream: null, running: false, waiting: null };

function setStatus(text, tone = "") {
  ui.status.textContent = text;
  ui.status.dataset.tone = tone;
}

function say(text) {
  if (!("speechSynthesis" in window) || !text) return;
  window.speechSynthesis.cancel();
  window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
}

// ---- the brain ---------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const token = query.get("token");
  const ws = new WebSocket(`${scheme}//${location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ""}`);
  state.ws = ws;
  ws.onmessage = (event) => {
    let output;
    try { output = JSON.parse(event.data); } catch { return; }
    onOutput(output);
  };
  ws.onclose = (event) => {
    state.ready = false;
    if (state.ws !== ws) return;
    setStatus(event.reason || "The connection to the brain closed. Reload the page to try again.", "error");
    stop();
  };
}

function send(value) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(value));
}

function onOutput({ kind = "", text = "", data = {} }) {
  if (kind === "status" && data.ready) {
    state.ready = true;
    if (!(data.cortexes || []).includes("gallery")) {
      setStatus("This brain has no gallery cortex: add one to its config (docs/cortexes.md, \"gallery\").", "error");
      return;
    }
    setStatus(`Brain ready. ${state.items.length} pictures: press Start.`, "ok");
    ui.start.disabled = !state.items.length;
  } else if (kind === "emotion") {
    const faces = data.faces || [];
    ui.feeling.textContent = faces.length ? `you look ${faces.map((f) => f.emotion).join(", ")}` : "no face";
  } else if (kind === "reaction") {
    ui.feeling.textContent = text;
  } else if (kind === "favourite") {
    if (state.waiting) state.waiting(data, text);
  } else if (kind === "error") {
    setStatus(text, "error");
  }
}

// ---- the camera ----------------------------------------------------------------------------

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showCameraMessage(cameraProblem(null));
    return false;
  }
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false });
  } catch (error) {
    showCameraMessage(cameraProblem(error));
    return false;
  }
  ui.video.srcObject = state.stream;
  showCameraMessage("");
  return true;
}

function showCameraMessage(text) {
  ui.cameraMessage.textContent = text;
  ui.cameraMessage.hidden = !text;
}

function snapshot() {
  const video = ui.video;
  if (!video.videoWidth || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
  if (state.ws.bufferedAmount > 2_000_000) return; // (a slow link: skip, do not queue)
  const scale = Math.min(1, SNAPSHOT_WIDTH / video.videoWidth);
  ui.canvas.width = Math.round(video.videoWidth * scale);
  ui.canvas.height = Math.round(video.videoHeight * scale);
  ui.canvas.getContext("2d").drawImage(video, 0, 0, ui.canvas.width, ui.canvas.height);
  ui.canvas.toBlob((blob) => blob && state.ws.readyState === WebSocket.OPEN && state.ws.send(blob), "image/jpeg", 0.8);
}

// ---- the visit -----------------------------------------------------------------------------

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function visit() {
  if (state.running || !state.ready) return;
  state.running = true;
  ui.start.disabled = true;
  ui.verdict.textContent = "";
  ui.chart.replaceChildren();
  if (!state.stream && !(await startCamera())) {
    setStatus("The gallery needs the camera to see your reactions.", "error");
    return stop();
  }
  setStatus("Watching your reactions…", "warn");
  const timer = setInterval(snapshot, SNAPSHOT_MS);
  try {
    for (const [index, item] of state.items.entries()) {
      await show(item, index);
      if (!state.running) return;
    }
  } finally {
    clearInterval(timer);
  }
  setStatus("Working out your favourite…", "warn");
  ui.step.textContent = "done";
  const answer = new Promise((resolve) => { state.waiting = (data, text) => resolve({ data, text }); });
  send({ command: "gallery.done" });
  const { data, text } = await Promise.race([answer, pause(15000).then(() => ({ data: null, text: "" }))]);
  state.waiting = null;
  if (!data) {
    setStatus("The brain did not answer in 15 s. Press Start to try again.", "error");
  } else {
    setStatus("Done. Press Start to go round again.", "ok");
    ui.caption.textContent = "The visit is over: your favourite is on the right.";
    ui.verdict.textContent = text;
    say(text);
    drawChart(data);
  }
  stop();
}

async function show(item, index) {
  ui.item.src = item.url;
  ui.item.alt = item.title;
  ui.item.hidden = false;
  ui.caption.textContent = item.title;
  ui.step.textContent = `picture ${index + 1} of ${state.items.length}`;
  send({ command: "gallery.look", item: item.id });
  const started = performance.now();
  while (state.running && performance.now() - started < LOOK_S * 1000) {
    ui.bar.style.width = `${Math.min(100, ((performance.now() - started) / (LOOK_S * 10)))}%`;
    await pause(100);
  }
  ui.bar.style.width = "0";
}

function stop() {
  state.running = false;
  ui.start.disabled = !state.ready || !state.items.length;
}

function drawChart({ item: best, items = {} }) {
  const rows = state.items.filter((item) => items[item.id]).map((item) => {
    const s = items[item.id];
    const li = document.createElement("li");
    li.className = item.id === best ? "best" : "";
    const thumb = Object.assign(document.createElement("img"), { src: item.url, alt: "" });
    const name = Object.assign(document.createElement("div"), { className: "name",
      textContent: `${item.title}${item.id === best ? " — favourite" : ""}` });
    const bar = Object.assign(document.createElement("div"), { className: "bar" });
    bar.style.width = `${Math.round(100 * s.score)}%`; // (a score is 0–1: bars compare across visits too)
    const numbers = Object.assign(document.createElement("div"), { className: "numbers",
      textContent: `score ${s.score.toFixed(2)} · happy ${Math.round(s.happy * 100)}% · surprise ${Math.round(s.surprise * 100)}% · watched ${s.attention_s.toFixed(1)} s` });
    const right = document.createElement("div");
    right.append(name, bar);
    li.append(thumb, right, numbers);
    return li;
  });
  ui.chart.replaceChildren(...rows);
}

async function load() {
  try {
    const answer = await fetch("/gallery/items");
    if (!answer.ok) throw new Error(await answer.text());
    state.items = (await answer.json()).items;
  } catch (error) {
    setStatus(`The gallery could not be loaded: ${error.message.trim()}`, "error");
    return;
  }
  if (!state.items.length) {
    setStatus("The gallery has no pictures: put some in the folder its config names (gallery dir).", "error");
    return;
  }
  setStatus(`${state.items.length} pictures. Connecting to the brain…`, "warn");
  connect();
}

ui.start.addEventListener("click", visit);
load();
