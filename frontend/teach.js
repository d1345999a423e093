// The teach panel: record samples of your own classes from the live camera, train a
// model on the brain, see where it errs (a confusion matrix), and use it live.
// Wire contract: teach.sample, teach.train, teach.use, teach.forget, teach.projects
// (docs/cortexes.md, "Teach it"); the brain answers teach, training, trained, class and error.

const RECORD_EVERY_MS = 333; // hold-to-record: three samples a second
const TIMER_S = 3;
const TIMER_SAMPLES = 10;
const THUMB = 72;

export class TeachPanel {
  constructor({ root, send, video, picture, say, snapshot }) {
    this.$ = (selector) => root.querySelector(selector);
    this.send = send;
    this.video = video;
    this.picture = picture; // (a Picture of the video: no sample before the camera shows one)
    this.speak = say;
    this.snapshot = snapshot;
    this.counts = {};
    this.thumbs = {}; // label → [{ id, url }]
    this.pending = []; // thumbnails waiting for the brain's answer, in order
    this.recording = null;
    this.bind();
  }

  get project() { return this.$("#teach-project").value.trim(); }
  get label() { return this.$("#teach-label").value.trim(); }

  bind() {
    const hold = this.$("#teach-hold");
    const start = (event) => { event.preventDefault(); this.record(); };
    const stop = () => this.stopRecording();
    hold.addEventListener("pointerdown", start);
    for (const name of ["pointerup", "pointerleave", "pointercancel"]) hold.addEventListener(name, stop);
    this.$("#teach-timer").addEventListener("click", () => this.timer());
    // A project recorded before (another session, a restart): show its classes and counts.
    this.$("#teach-project").addEventListener("change", () => {
      this.counts = {};
      this.thumbs = {};
      this.drawClasses();
      if (this.project) this.send({ command: "teach.projects" });
    });
    this.$("#teach-train").addEventListener("click", () => {
      if (!this.project) return this.say("Name the project first.", true);
      this.send({ command: "teach.train", project: this.project, features: this.$("#teach-features").value });
    });
    this.$("#teach-use").addEventListener("click", () => {
      if (!this.project) return this.say("Name the project first.", true);
      this.send({ command: "teach.use", project: this.project });
    });
  }

  say(text, error = false) {
    const line = this.$("#teach-message");
    line.textContent = text;
    line.dataset.tone = error ? "error" : "";
  }

  ready() {
    if (!this.project || !this.label) {
      this.say("Name the project and the class first, then record.", true);
      return false;
    }
    if (!this.picture.ready()) {
      this.say("Start the camera first, and wait for its picture: samples come from it.", true);
      return false;
    }
    return true;
  }

  thumbnail() {
    const canvas = document.createElement("canvas");
    const scale = THUMB / Math.max(this.video.videoWidth, this.video.videoHeight);
    canvas.width = Math.round(this.video.videoWidth * scale);
    canvas.height = Math.round(this.video.videoHeight * scale);
    canvas.getContext("2d").drawImage(this.video, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.7);
  }

  async takeSample() {
    if (!this.ready()) return this.stopRecording();
    const thumbnail = this.thumbnail();
    await this.snapshot(); // (the brain keeps the frame it got last: send this one first)
    if (this.send({ command: "teach.sample", project: this.project, label: this.label })) {
      this.pending.push(thumbnail);
    }
  }

  record() {
    if (!this.ready()) return;
    this.stopRecording();
    this.$("#teach-hold").setAttribute("aria-pressed", "true");
    this.say(`Recording ${this.label}… release to stop.`);
    this.takeSample();
    this.recording = setInterval(() => this.takeSample(), RECORD_EVERY_MS);
  }

  stopRecording() {
    clearInterval(this.recording);
    this.recording = null;
    this.$("#teach-hold").setAttribute("aria-pressed", "false");
  }

  timer() {
    if (!this.ready()) return;
    let left = TIMER_S;
    this.say(`Get into position: recording ${TIMER_SAMPLES} samples of ${this.label} in ${left}…`);
    const tick = setInterval(() => {
      left -= 1;
      if (left > 0) {
        this.say(`Get into position: recording ${TIMER_SAMPLES} samples of ${this.label} in ${left}…`);
        return;
      }
      clearInterval(tick);
      let taken = 0;
      this.say(`Recording ${this.label}: hold still.`);
      const shots = setInterval(() => {
        this.takeSample();
        taken += 1;
        if (taken >= TIMER_SAMPLES) {
          clearInterval(shots);
          this.say(`Recorded ${TIMER_SAMPLES} samples of ${this.label}.`);
          this.speak(`Recorded ${TIMER_SAMPLES} samples.`);
        }
      }, RECORD_EVERY_MS);
    }, 1000);
  }

  // Returns true when the output was the panel's.
  onOutput({ kind, text, data = {}, cortex }) {
    if (cortex !== "learned") return false;
    if (kind === "teach") {
      if (data.counts) this.counts = data.counts;
      if (data.sample) {
        const url = this.pending.shift();
        (this.thumbs[data.label] ||= []).push({ id: data.sample, url });
      }
      if (data.projects) {
        this.counts = data.projects[this.project] || {};
        const names = Object.keys(data.projects);
        this.say(names.length ? `Projects here: ${names.join(", ")}.` : "No projects yet: name one and record.");
      } else if (!data.sample) this.say(text);
      this.drawClasses();
      return true;
    }
    if (kind === "error" && (data.command || "").startsWith("teach.")) {
      if (data.command === "teach.sample") { this.pending.shift(); this.stopRecording(); }
      this.say(text, true);
      return false; // (also in the transcript)
    }
    if (kind === "training") {
      const bar = this.$("#teach-progress");
      bar.hidden = false;
      bar.max = data.epochs || 100;
      bar.value = data.epoch || 0;
      const loss = data.loss !== undefined ? `, loss ${data.loss.toFixed(3)}` : "";
      this.say(data.epoch ? `Epoch ${data.epoch} of at most ${data.epochs}${loss}, validation accuracy ${Math.round(data.val_accuracy * 100)}%.` : text);
      return true;
    }
    if (kind === "trained") {
      const bar = this.$("#teach-progress");
      bar.value = bar.max;
      this.say(text);
      this.drawConfusion(data.labels, data.confusion, data.accuracy_per_class);
      return false; // (also in the transcript, and spoken)
    }
    if (kind === "class") {
      const live = this.$("#teach-live");
      live.hidden = false;
      live.querySelector(".label").textContent = data.label;
      live.querySelector("meter").value = data.score;
      live.querySelector(".score").textContent = `${Math.round(data.score * 100)}%`;
      return true;
    }
    return false;
  }

  drawClasses() {
    const list = this.$("#teach-classes");
    list.replaceChildren();
    for (const [label, count] of Object.entries(this.counts)) {
      const item = document.createElement("li");
      const title = document.createElement("button");
      title.type = "button";
      title.className = "class-name";
      title.textContent = `${label} · ${count}`;
      title.title = "Record more of this class";
      title.addEventListener("click", () => { this.$("#teach-label").value = label; });
      const strip = document.createElement("div");
      strip.className = "thumbs";
      for (const { id, url } of (this.thumbs[label] || []).slice(-24)) {
        const thumb = document.createElement("img");
        thumb.src = url;
        thumb.alt = `sample ${id} of ${label}; click to delete it`;
        thumb.title = "Click to delete this sample";
        thumb.addEventListener("click", () => {
          if (this.send({ command: "teach.forget", project: this.project, label, sample: id })) {
            this.thumbs[label] = this.thumbs[label].filter((t) => t.id !== id);
            thumb.remove();
          }
        });
        strip.append(thumb);
      }
      item.append(title, strip);
      list.append(item);
    }
  }

  // The confusion matrix as a picture: rows are the true class, columns the predicted one;
  // the darker a cell, the more of that row's samples went there.
  drawConfusion(labels, matrix, accuracy) {
    const canvas = this.$("#teach-confusion");
    canvas.hidden = false;
    const n = labels.length;
    const cell = Math.max(28, Math.min(56, Math.floor(260 / n)));
    const left = 110, top = 64;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(left + n * cell + 70, 330), height = top + n * cell + 28;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "13px system-ui, sans-serif";
    ctx.fillStyle = "#1d1d1f";
    ctx.fillText("rows: the true class · columns: what it predicted", 4, top + n * cell + 18);
    matrix.forEach((row, i) => {
      const total = row.reduce((a, b) => a + b, 0) || 1;
      row.forEach((count, j) => {
        const share = count / total;
        ctx.fillStyle = i === j ? `rgba(31, 122, 58, ${0.12 + 0.88 * share})` : `rgba(179, 38, 30, ${share ? 0.15 + 0.85 * share : 0.04})`;
        ctx.fillRect(left + j * cell, top + i * cell, cell - 2, cell - 2);
        ctx.fillStyle = share > 0.55 ? "#fff" : "#1d1d1f";
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.fillText(String(count), left + j * cell + cell / 2 - 1, top + i * cell + cell / 2 - 1);
      });
      ctx.textAlign = "right";
      ctx.fillStyle = "#1d1d1f";
      ctx.fillText(labels[i].slice(0, 14), left - 8, top + i * cell + cell / 2);
      const acc = accuracy[i];
      ctx.textAlign = "left";
      ctx.fillStyle = "#6b6b70";
      ctx.fillText(acc === null ? "–" : `${Math.round(acc * 100)}%`, left + n * cell + 6, top + i * cell + cell / 2);
    });
    labels.forEach((label, j) => {
      ctx.save();
      ctx.translate(left + j * cell + cell / 2, top - 8);
      ctx.rotate(-Math.PI / 4);
      ctx.textAlign = "left";
      ctx.fillStyle = "#1d1d1f";
      ctx.fillText(label.slice(0, 14), 0, 0);
      ctx.restore();
    });
  }
}
