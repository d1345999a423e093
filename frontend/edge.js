// The edge: the pose model run in the page (TF.js, served by the brain with the model
// files the holder uses), so that in privacy mode only keypoints leave the browser.

const SIZE = 192; // MoveNet lightning's input: the frame padded to a square, top left
const PERSON = 0.2; // a person is there when the mean keypoint score reaches this

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
    this.model = await tf.loadGraphModel("models/movenet-lightning.json");
    this.backend = tf.getBackend();
  }

  // The people in the video's current frame: [{keypoints: [[x, y, score] × 17]}] in its pixels.
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
    const rows = (await output.array())[0][0]; // 17 × (y, x, score), fractions of the square
    input.dispose();
    output.dispose();
    this.lastMs = performance.now() - started;
    const mean = rows.reduce((sum, row) => sum + row[2], 0) / rows.length;
    const keypoints = rows.map(([y, x, score]) => [x * side, y * side, score]);
    return { width, height, people: mean >= PERSON ? [{ keypoints }] : [] };
  }
}
