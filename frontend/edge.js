// The edge: the pose model run in the page (MoveNet multipose in TF.js, its files served
// by the brain), so that in privacy mode only everyone's keypoints leave the browser.

const SIZE = 256; // MoveNet multipose's input (a multiple of 32): the frame padded to a square, top left
const PERSON = 0.2; // a person is there when their score reaches this (the holder's threshold)

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

export class EdgePose {
  constructor() {
    this.canvas = document.createElement("canvas");
    this.canvas.width = SIZE;
    this.canvas.height = SIZE;
    this.busy = false;
  }

  async load() {
    if (!window.tf) await loadScript("tf.min.js");
    const tf = window.tf;
    // WebGL on a phone or a laptop; the CPU backend where there is none (headless).
    if (!(await tf.setBackend("webgl").catch(() => false))) await tf.setBackend("cpu");
    await tf.ready();
    this.model = await tf.loadGraphModel("models/movenet-multipose.json");
    this.backend = tf.getBackend();
  }

  // The people in the video's current frame, left to right: [{keypoints: [[x, y, score] × 17]}]
  // in its pixels.
  async estimate(video) {
    const tf = window.tf;
    const width = video.videoWidth, height = video.videoHeight;
    const side = Math.max(width, height);
    const ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, SIZE, SIZE);
    ctx.drawImage(video, 0, 0, (width * SIZE) / side, (height * SIZE) / side);
    const started = performance.now();
    const input = tf.tidy(() => tf.browser.fromPixels(this.canvas).toInt().expandDims(0));
    const output = this.model.execute(input);
    // Six rows, one a person: 17 × (y, x, score) as fractions of the square, then their
    // box (ymin, xmin, ymax, xmax) and their score.
    const rows = (await output.array())[0];
    input.dispose();
    output.dispose();
    this.lastMs = performance.now() - started;
    const people = rows.filter((row) => row[55] >= PERSON).map((row) => {
      const keypoints = [];
      for (let i = 0; i < 51; i += 3) keypoints.push([row[i + 1] * side, row[i] * side, row[i + 2]]);
      return { keypoints };
    });
    // Left to right by the median of their keypoints' x, as the holder sorts them.
    const median = (person) => person.keypoints.map((p) => p[0]).sort((a, b) => a - b)[8];
    people.sort((a, b) => median(a) - median(b));
    return { width, height, people };
  }
}

// BlazeFace in the page (privacy mode with face crops): the same model and decoding as
// the holder's (actors/models/faces.py): 896 anchors, 16×16 cells × 2 (stride 16), then
// 8×8 × 6 (stride 32); the image stretched to 256², scaled to −1..1.
const FACE_SIZE = 256;
const FACE_SCORE = 0.6;

function anchors() {
  const out = [];
  for (const [grid, stride, perCell] of [[16, 16, 2], [8, 32, 6]]) {
    for (let y = 0; y < grid; y += 1) {
      for (let x = 0; x < grid; x += 1) {
        for (let k = 0; k < perCell; k += 1) out.push([(x + 0.5) * stride, (y + 0.5) * stride]);
      }
    }
  }
  return out;
}

function iou(a, b) {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter || 1);
}

export class EdgeFaces {
  constructor() {
    this.canvas = document.createElement("canvas");
    this.canvas.width = FACE_SIZE;
    this.canvas.height = FACE_SIZE;
    this.anchors = anchors();
  }

  async load() {
    this.model = await window.tf.loadGraphModel("models/blazeface.json");
  }

  // Face boxes [x1, y1, x2, y2] as fractions of the frame, best first.
  async boxes(video) {
    const tf = window.tf;
    this.canvas.getContext("2d").drawImage(video, 0, 0, FACE_SIZE, FACE_SIZE);
    const input = tf.tidy(() => tf.browser.fromPixels(this.canvas).toFloat().div(127.5).sub(1).expandDims(0));
    const outputs = this.model.execute(input);
    const arrays = await Promise.all(outputs.map((t) => t.array()));
    input.dispose();
    outputs.forEach((t) => t.dispose());
    const byShape = {};
    arrays.forEach((a) => { byShape[`${a[0].length}x${a[0][0].length}`] = a[0]; });
    const rows = [];
    for (const n of [512, 384]) {
      const scores = byShape[`${n}x1`], boxes = byShape[`${n}x16`];
      for (let i = 0; i < n; i += 1) rows.push([scores[i][0], ...boxes[i]]);
    }
    const found = [];
    rows.forEach((row, i) => {
      const score = 1 / (1 + Math.exp(-Math.max(-80, Math.min(80, row[0]))));
      if (score <= FACE_SCORE) return;
      const [ax, ay] = this.anchors[i];
      const cx = row[1] + ax, cy = row[2] + ay, w = row[3], h = row[4];
      const box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2].map((v) => Math.max(0, Math.min(1, v / FACE_SIZE)));
      found.push({ score, box });
    });
    found.sort((a, b) => b.score - a.score);
    const kept = [];
    for (const face of found) if (!kept.some((k) => iou(k.box, face.box) > 0.3)) kept.push(face);
    return kept.map((f) => f.box);
  }

  // Each face as its own JPEG: a square around it (as the holder crops for FaceRes), so
  // that only faces leave the page.
  async crops(video, quality = 0.85) {
    const width = video.videoWidth, height = video.videoHeight;
    const blobs = [];
    for (const [x1, y1, x2, y2] of await this.boxes(video)) {
      // BlazeFace sees the frame stretched square: the shorter side is the true face size.
      const side = Math.min((x2 - x1) * width, (y2 - y1) * height) * 2.0;
      const cx = ((x1 + x2) / 2) * width, cy = ((y1 + y2) / 2) * height;
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = Math.max(64, Math.round(side));
      canvas.getContext("2d").drawImage(video, cx - side / 2, cy - side / 2, side, side, 0, 0, canvas.width, canvas.height);
      blobs.push(await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality)));
    }
    return blobs;
  }
}
