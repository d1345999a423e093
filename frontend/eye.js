// The eye: camera preview, snapshots and speech to the brain; its replies shown and spoken.
// Wire protocol: see docs/protocol.md. Binary messages are JPEG snapshots.

import { cameraProblem } from "./camera.js";
import { Attention, Creature } from "./creature.js";
import { EdgeFaces, EdgePose } from "./edge.js";
import { changeOf, createGate, decide, greyOf } from "./gate.js";
import { Picture } from "./picture.js";
import { drawSkeleton, labelOf } from "./skeleton.js";
import { TeachPanel } from "./teach.js";

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"), video: $("preview"), cameraMessage: $("camera-message"),
  cameraToggle: $("camera-toggle"), cameraFlip: $("camera-flip"), cameraState: $("camera-state"),
  frames: $("frames"), say: $("say"), sayText: $("say-text"), listen: $("listen"),
  speak: $("speak"), transcript: $("transcript"), canvas: $("snapshot"), overlay: $("overlay"),
  seeing: $("seeing"), modelState: $("model-state"), enroll: $("enroll"), enrollName: $("enroll-name"),
  forget: $("forget"), creature: $("creature"), gesture: $("gesture"),
  gateSwitch: $("gate-switch"), gateState: $("gate-state"), eyeName: $("eye-name"),
};

// Until the brain says otherwise (its "ready" status carries the configured values).
const settings = {
  snapshot_every_ms: 1000, snapshot_max_width: 640, jpeg_quality: 0.8,
  gate: "off", change_threshold: 0.03, hold_s: 1.0, keep_alive_s: 5.0, gate_width: 32,
};
const gate = createGate();
let edge = null; // privacy mode: the pose model in this page (EdgePose), once loaded
let edgeFaces = null; // … and BlazeFace, when face crops may leave the page
const gateCanvas = document.createElement("canvas");
const MAX_TRANSCRIPT = 200;
// Skip a snapshot while this much is still unsent: a slow link must not queue old frames.
const MAX_BUFFERED_BYTES = 256 * 1024;
// Boxes older than this are cleared: the scene has moved on or the brain went quiet.
const BOXES_TTL_MS = 3000;

const state = {
  ws: null, brainReady: false, retryMs: 500, stream: null, facing: "user",
  snapshotTimer: null, framesSent: 0, framesSkipped: 0, recognition: null, listening: false,
  lastLabels: "", boxes: {}, boxesTimer: null, models: {},
  pose: null, // { people, width, height, at } from the pose cortex
  speakNextLabel: false, // "what do you see": say the next label even if it did not change
  cameraStarting: false, // asked for the camera, not given it yet
};
// What the brain says of one snapshot: once the camera is off, about a picture no longer shown.
const FRAME_RESULTS = new Set(["pose", "label", "faces", "emotion", "reaction"]);
const creature = new Creature(ui.creature);
const attention = new Attention(); // whom among the people the creature looks at
const picture = new Picture(ui.video);
const teach = new TeachPanel({
  root: $("teach"), send: (value) => sendJson(value), video: ui.video, picture, say: (t) => say(t),
  snapshot: () => sendSnapshot(true), // a sample is this very frame, gate or not
});

function setStatus(text, tone = "") {
  ui.status.textContent = text;
  ui.status.dataset.tone = tone;
}

function addLine(who, text, kind = "") {
  const li = document.createElement("li");
  li.className = kind;
  const whoEl = document.createElement("span");
  whoEl.className = "who";
  whoEl.textContent = who;
  const what = document.createElement("span");
  what.className = "what";
  what.textContent = text;
  const when = document.createElement("span");
  when.className = "when";
  when.textContent = new Date().toLocaleTimeString();
  li.append(whoEl, what, when);
  ui.transcript.prepend(li);
  while (ui.transcript.children.length > MAX_TRANSCRIPT) ui.transcript.lastChild.remove();
}

// ---- the brain ---------------------------------------------------------------------------

function brainUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws${location.search}`;
}

function connect() {
  setStatus("Connecting to the brain…", "warn");
  const ws = new WebSocket(brainUrl());
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  ws.onopen = () => {
    state.retryMs = 500;
    setStatus("Connected. Waiting for the brain to be ready…", "warn");
  };
  ws.onmessage = (event) => {
    let output;
    try {
      output = JSON.parse(event.data);
    } catch {
      addLine("page", "The brain sent something this page cannot read; it was ignored.", "error");
      return;
    }
    onOutput(output);
  };
  ws.onclose = (event) => {
    state.brainReady = false;
    if (state.ws !== ws) return;
    if (event.code === 1008) {
      // Refused for policy (a missing or wrong token): retrying cannot help.
      setStatus(event.reason || "The brain refused this page. Ask for the right link.", "error");
      return;
    }
    const why = event.reason ? ` (${event.reason})` : "";
    const seconds = Math.round(state.retryMs / 100) / 10;
    setStatus(`Lost the brain${why}. Reconnecting in ${seconds} s…`, "error");
    setTimeout(connect, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 10000);
  };
}

function onOutput(output) {
  const { cortex = "brain", kind = "", text = "", data = {} } = output;
  if (teach.onOutput(output)) return;
  if (FRAME_RESULTS.has(kind) && !state.stream) return; // (sent before the camera stopped)
  if (kind === "pose") {
    // Every frame with somebody in it: drawn and followed, never read aloud.
    const people = data.people || [];
    state.pose = { people, width: data.width, height: data.height, at: Date.now() };
    creature.look(attention.choose(people, data.width, performance.now())?.head);
    drawBoxes();
    clearTimeout(state.boxesTimer);
    state.boxesTimer = setTimeout(drawBoxes, BOXES_TTL_MS + 50);
    return;
  }
  if (kind === "gesture") {
    // Arms up: it jumps, and cheers whoever raised them (the whole sentence from an older brain).
    const who = labelOf({ id: data.person, name: data.name });
    if (data.gesture === "arms_up") creature.jump();
    creature.say(data.gesture === "arms_up" && who ? `${who}!` : text);
    ui.gesture.textContent = `last gesture: ${text}`;
    addLine(cortex, text, "gesture");
    say(text);
    return;
  }
  if (kind === "emotion") return; // (every frame with faces: shown on the faces' tags)
  if (kind === "reaction") {
    creature.say(text);
    addLine(cortex, text, "gesture");
    say(text);
    return;
  }
  if (kind === "eye") {
    obey(data.action);
    addLine(cortex, text);
    say(text);
    return;
  }
  if (kind === "label") {
    onLabel(cortex, text, data);
    return;
  }
  if (kind === "faces") {
    // (in privacy mode a face box is in its crop, not in the preview: not drawn)
    // Each face's tag says who (how sure, for a known face) and, with an emotion model, what
    // they feel: "Eileen 92% · happy", "unknown person · neutral".
    const faces = (data.faces || []).map((f) => {
      const who = f.name ? `${f.label} ${Math.round(f.score * 100)}%` : f.label;
      return { box: f.box, label: f.emotion ? `${who} · ${f.emotion}` : who };
    });
    if (!settings.privacy) setBoxes(cortex, faces, data.width, data.height, "#3ddc97");
    if (text) {
      addLine(cortex, text);
      say(text);
    }
    return;
  }
  if (kind === "status" && data.model) {
    state.models[data.model] = data.state;
    const pick = (wanted) => Object.keys(state.models).filter((m) => state.models[m] === wanted);
    const loading = pick("loading");
    const busy = pick("busy");
    ui.modelState.hidden = false;
    ui.modelState.textContent = loading.length ? `loading the ${loading.join(", ")} model…`
      : busy.length ? `${busy.join(", ")} busy: some frames skipped` : "models ready";
    ui.modelState.dataset.tone = loading.length || busy.length ? "warn" : "ok";
    addLine(cortex, text, "status");
    return;
  }
  if (kind === "status" && data.connected && data.eye) {
    // Its name (?eye=kitchen, or the brain's eye-3): what the house and /brain call it.
    ui.eyeName.textContent = `eye: ${data.eye}`;
    ui.eyeName.hidden = false;
    document.title = `Cortical — ${data.eye}`;
  }
  if (kind === "status" && data.started) {
    // A cortex that waited for its first stimulus has started: news, not the brain's state.
    addLine(cortex, text, "status");
    return;
  }
  if (kind === "status") {
    if (data.ready) {
      state.brainReady = true;
      Object.assign(settings, data.eye || {});
      ui.gateSwitch.parentElement.hidden = settings.gate === "off" || settings.privacy;
      showGate();
      if (settings.privacy) startEdge();
      setStatus(`Brain ready: ${(data.cortexes || []).join(", ") || "no cortexes"}.`, "ok");
      $("teach").hidden = !(data.cortexes || []).includes("learned");
      restartSnapshots();
    } else {
      setStatus(text, "warn");
    }
    addLine(cortex, text, "status");
    return;
  }
  addLine(cortex, text, kind === "error" ? "error" : "");
  if (kind !== "error") say(text);
}

// A label comes with every snapshot: draw its boxes each time, but show it in the
// transcript and speak it only when what is seen changes.
function onLabel(cortex, text, data) {
  const detections = data.detections || [];
  setBoxes(cortex, detections, data.width, data.height, "#ffd400");
  ui.seeing.textContent = detections.length ? `I see ${text}` : "I see nothing I know.";
  const names = [...new Set(detections.map((d) => d.label))].sort().join(", ");
  if (state.speakNextLabel) {
    state.speakNextLabel = false;
    state.lastLabels = names;
    addLine(cortex, ui.seeing.textContent);
    say(ui.seeing.textContent);
    return;
  }
  if (names !== state.lastLabels) {
    state.lastLabels = names;
    if (names) {
      addLine(cortex, text);
      say(names);
    }
  }
}

// Each cortex draws its own layer of boxes (objects in yellow, faces in green); a layer
// not refreshed for BOXES_TTL_MS is cleared.
function setBoxes(cortex, boxes, width, height, colour) {
  state.boxes[cortex] = { boxes, width, height, colour, at: Date.now() };
  drawBoxes();
  clearTimeout(state.boxesTimer);
  state.boxesTimer = setTimeout(drawBoxes, BOXES_TTL_MS + 50);
}

function drawBoxes() {
  const canvas = ui.overlay;
  const rect = canvas.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(rect.width * ratio);
  canvas.height = Math.round(rect.height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, rect.width, rect.height);
  ctx.lineWidth = 3;
  ctx.font = "600 15px system-ui, sans-serif";
  ctx.textBaseline = "top";
  for (const layer of Object.values(state.boxes)) {
    const { boxes, width, height, colour, at } = layer;
    if (!boxes.length || !width || !height || Date.now() - at > BOXES_TTL_MS) continue;
    // The video is letterboxed (object-fit: contain): map snapshot pixels onto it.
    const scale = Math.min(rect.width / width, rect.height / height);
    const offsetX = (rect.width - width * scale) / 2;
    const offsetY = (rect.height - height * scale) / 2;
    for (const { label, score, box } of boxes) {
      const [x1, y1, x2, y2] = box;
      const x = offsetX + x1 * scale;
      const y = offsetY + y1 * scale;
      const tag = score === undefined ? label : `${label} ${Math.round(score * 100)}%`;
      ctx.strokeStyle = colour;
      ctx.strokeRect(x, y, (x2 - x1) * scale, (y2 - y1) * scale);
      const tagWidth = ctx.measureText(tag).width + 8;
      const tagY = Math.max(0, y - 20);
      ctx.fillStyle = colour;
      ctx.fillRect(x, tagY, tagWidth, 20);
      ctx.fillStyle = "#111";
      ctx.fillText(tag, x + 4, tagY + 2);
    }
  }
  const pose = state.pose;
  if (pose && pose.width && pose.height && Date.now() - pose.at <= BOXES_TTL_MS) {
    const scale = Math.min(rect.width / pose.width, rect.height / pose.height);
    const offsetX = (rect.width - pose.width * scale) / 2;
    const offsetY = (rect.height - pose.height * scale) / 2;
    drawSkeleton(ctx, pose.people, (x, y) => [offsetX + x * scale, offsetY + y * scale]);
  }
}

// What the voice cortex decided (a spoken "open your eyes", "qui vois-tu", …).
function obey(action) {
  if (action === "open_eyes") startCamera();
  else if (action === "close_eyes") stopCamera();
  else if (action === "switch_camera") flipCamera();
  else if (action === "look") look();
}

// "What do you see": this very picture, past the gate, and say what is seen even if it did
// not change. A camera still starting is looked at once its first picture shows.
function look() {
  if (!state.stream && !state.cameraStarting) {
    addLine("page", "My eyes are closed: say \"open your eyes\" or press Start camera first.", "error");
    return;
  }
  state.speakNextLabel = true;
  picture.whenReady(() => sendSnapshot(true));
}

function sendJson(value) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(value));
    return true;
  }
  addLine("page", "Not connected to the brain yet; try again in a moment.", "error");
  return false;
}

// ---- camera and snapshots ----------------------------------------------------------------

function showCameraMessage(text) {
  ui.cameraMessage.textContent = text;
  ui.cameraMessage.hidden = !text;
}

async function startCamera() {
  stopCamera();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showCameraMessage(cameraProblem(null));
    ui.cameraState.textContent = "no camera";
    return;
  }
  ui.cameraState.textContent = "asking for the camera…";
  state.cameraStarting = true;
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: state.facing, width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: false,
    });
  } catch (error) {
    state.cameraStarting = state.speakNextLabel = false;
    picture.stopped();
    showCameraMessage(cameraProblem(error));
    ui.cameraState.textContent = "camera off";
    ui.cameraToggle.textContent = "Start camera";
    return;
  }
  state.cameraStarting = false;
  ui.video.srcObject = state.stream;
  picture.started();
  showCameraMessage("");
  ui.cameraState.textContent = `camera on (${state.facing === "user" ? "front" : "back"})`;
  ui.cameraToggle.textContent = "Stop camera";
  restartSnapshots();
}

function stopCamera() {
  if (state.stream) state.stream.getTracks().forEach((track) => track.stop());
  state.stream = null;
  state.speakNextLabel = false; // (a look asked for before is moot)
  picture.stopped();
  ui.video.srcObject = null;
  clearInterval(state.snapshotTimer);
  state.boxes = {};
  state.pose = null;
  attention.forget();
  creature.look(null);
  drawBoxes();
  ui.seeing.textContent = "";
  ui.cameraState.textContent = "camera off";
  ui.cameraToggle.textContent = "Start camera";
}

function restartSnapshots() {
  clearInterval(state.snapshotTimer);
  if (state.stream) state.snapshotTimer = setInterval(() => sendSnapshot(), settings.snapshot_every_ms);
}

// Resolves true once a snapshot is on its way. `force`: past the gate (asked for: "what do
// you see", a teach sample).
function sendSnapshot(force = false) {
  const ws = state.ws;
  const video = ui.video;
  if (!state.brainReady || !ws || ws.readyState !== WebSocket.OPEN || !picture.ready()) {
    return Promise.resolve(false);
  }
  if (settings.privacy) {
    if (force) addLine("page", "Privacy mode: no picture leaves this page, only your pose.", "error");
    else sendPose();
    return Promise.resolve(false);
  }
  if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
    state.framesSkipped += 1;
    return Promise.resolve(false);
  }
  const gateOn = settings.gate !== "off" && ui.gateSwitch.checked && !force;
  const change = gateOn ? changeOf(gate, greyOf(video, settings.gate_width, gateCanvas)) : 1;
  const worth = decide(gate, { ...settings, gate: gateOn ? settings.gate : "off" }, performance.now(), change);
  showGate();
  if (!worth) return Promise.resolve(false);
  // Scale down in the browser: a smaller JPEG is cheaper to send and to decode.
  const scale = Math.min(1, settings.snapshot_max_width / video.videoWidth);
  ui.canvas.width = Math.round(video.videoWidth * scale);
  ui.canvas.height = Math.round(video.videoHeight * scale);
  ui.canvas.getContext("2d").drawImage(video, 0, 0, ui.canvas.width, ui.canvas.height);
  return new Promise((resolve) => ui.canvas.toBlob((blob) => {
    if (!blob || ws.readyState !== WebSocket.OPEN) return resolve(false);
    ws.send(blob);
    state.framesSent += 1;
    const skipped = state.framesSkipped ? `, ${state.framesSkipped} skipped (slow link)` : "";
    ui.frames.textContent = `${state.framesSent} frame${state.framesSent === 1 ? "" : "s"} sent${skipped}`;
    resolve(true);
  }, "image/jpeg", settings.jpeg_quality));
}

// Privacy mode: the page's own pose estimate goes to the brain, never the picture.
async function sendPose() {
  if (!edge || edge.busy || !edge.model) return;
  edge.busy = true;
  try {
    const pose = await edge.estimate(ui.video);
    const crops = edgeFaces ? await edgeFaces.crops(ui.video) : [];
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify({ pose }));
      for (const crop of crops) state.ws.send(crop);
      state.framesSent += 1;
      const what = edgeFaces ? "poses and face crops" : "poses";
      ui.frames.textContent = `${state.framesSent} ${what} sent (no pictures), ${Math.round(edge.lastMs)} ms each`;
    }
  } finally {
    edge.busy = false;
  }
}

async function startEdge() {
  if (edge) return;
  edge = new EdgePose();
  ui.gateState.textContent = "privacy mode: loading the pose model in this page…";
  try {
    await edge.load();
    if (settings.privacy_face_crops) {
      edgeFaces = new EdgeFaces();
      await edgeFaces.load();
    }
    const what = edgeFaces ? "your pose and your face leave" : "your pose leaves";
    ui.gateState.textContent = `privacy mode: only ${what} this page (${edge.backend})`;
  } catch (error) {
    edge = null;
    ui.gateState.textContent = "privacy mode: the pose model could not load here";
    addLine("page", `Privacy mode needs the pose model in this page, and it did not load (${error.message}). Reload to try again.`, "error");
  }
}

// What the gate does: how many snapshots it looked at, and how many it let through.
function showGate() {
  if (settings.privacy) return; // (startEdge says what happens)
  if (settings.gate === "off") {
    ui.gateState.textContent = "gate off: every snapshot is sent";
    return;
  }
  const share = gate.looked ? Math.round((100 * gate.sent) / gate.looked) : 100;
  ui.gateState.textContent = ui.gateSwitch.checked
    ? `gate: ${gate.sent} of ${gate.looked} snapshots sent (${share}%)`
    : "gate switched off: every snapshot is sent";
}

// ---- voice ---------------------------------------------------------------------------------

function say(text) {
  if (!ui.speak.checked || !("speechSynthesis" in window) || !text) return;
  window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
}

function setupListening() {
  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (!Recognition) {
    ui.listen.disabled = true;
    ui.listen.title = "Speech recognition is not available in this browser; type instead.";
    return;
  }
  const recognition = new Recognition();
  recognition.continuous = true;
  recognition.interimResults = false;
  recognition.lang = navigator.language || "en-US";
  recognition.onresult = (event) => {
    for (let i = event.resultIndex; i < event.results.length; i += 1) {
      const result = event.results[i];
      const text = result[0].transcript.trim();
      if (result.isFinal && text && sendJson({ text })) addLine("you", text, "me");
    }
  };
  recognition.onerror = (event) => {
    const why = event.error === "not-allowed"
      ? "The microphone is blocked. Allow it for this site, then press Listen."
      : `Listening stopped (${event.error}). Press Listen to start again.`;
    if (event.error !== "no-speech") addLine("page", why, "error");
  };
  // Chrome ends continuous recognition after a pause: keep listening until told to stop.
  recognition.onend = () => { if (state.listening) recognition.start(); };
  state.recognition = recognition;
}

function toggleListening() {
  if (!state.recognition) return;
  state.listening = !state.listening;
  ui.listen.setAttribute("aria-pressed", String(state.listening));
  ui.listen.textContent = state.listening ? "Stop listening" : "Listen";
  if (state.listening) state.recognition.start(); else state.recognition.stop();
}

// ---- wiring ----------------------------------------------------------------------------------

ui.cameraToggle.addEventListener("click", () => (state.stream ? stopCamera() : startCamera()));
function flipCamera() {
  state.facing = state.facing === "user" ? "environment" : "user";
  startCamera();
}
ui.cameraFlip.addEventListener("click", flipCamera);
ui.say.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.sayText.value.trim();
  if (text && sendJson({ text })) {
    addLine("you", text, "me");
    ui.sayText.value = "";
  }
});
ui.listen.addEventListener("click", toggleListening);
ui.enroll.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = ui.enrollName.value.trim();
  if (!name) {
    addLine("page", "Type your name first, then press Remember my face.", "error");
    return;
  }
  if (sendJson({ command: "enroll", name })) addLine("you", `Remember my face as ${name}.`, "me");
});
ui.forget.addEventListener("click", () => {
  const name = ui.enrollName.value.trim();
  if (!name) {
    addLine("page", "Type the name to forget first, then press Forget.", "error");
    return;
  }
  if (sendJson({ command: "forget", name })) addLine("you", `Forget ${name}.`, "me");
});
ui.speak.addEventListener("change", () => { if (!ui.speak.checked) window.speechSynthesis?.cancel(); });
ui.gateSwitch.addEventListener("change", showGate);

setupListening();
connect();
startCamera();
