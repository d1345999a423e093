// The creature: a small round friend drawn on a canvas, who turns its head where the
// person looks (head yaw and pitch from the pose cortex) and jumps when they raise both
// arms. Drawn by this code alone: no library, no build step. Among several people it
// watches one (Attention).

import { boxOf } from "./skeleton.js";

const EASE = 0.18; // how far it moves toward where it should look, each frame
const JUMP_MS = 700;
// A move: a box's centre shifted by this share of the frame's width between two pose
// outputs (a guess: over a still person's jitter, under one step aside).
const MOVED = 0.03;
// How long a move holds its attention; then back to the nearest person.
const HOLD_MS = 3000;

// Whom the creature watches: who moved last (their box's centre moved most since the
// previous pose output, by id), for HOLD_MS after their move; else the nearest (the
// largest box). Pure: the time is an argument.
export class Attention {
  constructor() {
    this.centres = new Map(); // id → their box's centre in the previous pose output
    this.mover = null; // the id of who moved last
    this.movedAt = -Infinity;
  }

  // `people` as the pose cortex sends them, `width` the frame's, `now` in ms → the person to watch, or null.
  choose(people, width, now) {
    const centres = new Map();
    let moved = null, most = MOVED * width;
    for (const person of people) {
      const box = boxOf(person);
      if (!box || !Number.isInteger(person.id)) continue; // (no id: no way to say who moved)
      const centre = [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2];
      centres.set(person.id, centre);
      const before = this.centres.get(person.id);
      const shift = before ? Math.hypot(centre[0] - before[0], centre[1] - before[1]) : 0;
      if (shift > most) [moved, most] = [person.id, shift];
    }
    this.centres = centres;
    if (moved !== null) [this.mover, this.movedAt] = [moved, now];
    const mover = people.find((person) => person.id === this.mover);
    if (mover && now - this.movedAt <= HOLD_MS) return mover;
    let nearest = null, largest = -1;
    for (const person of people) {
      const box = boxOf(person);
      const area = box ? (box[2] - box[0]) * (box[3] - box[1]) : 0;
      if (area > largest) [nearest, largest] = [person, area];
    }
    return nearest;
  }

  forget() {
    this.centres = new Map();
    this.mover = null;
  }
}

export class Creature {
  constructor(canvas) {
    this.canvas = canvas;
    this.yaw = 0; this.pitch = 0; // where it looks now, each in -1..1
    this.targetYaw = 0; this.targetPitch = 0;
    this.jumpedAt = -Infinity;
    this.words = ""; this.wordsAt = -Infinity;
    this.awake = false;
    requestAnimationFrame((t) => this.frame(t));
  }

  // yaw > 0: the person's nose points toward the right of the image (and of the preview).
  look(head) {
    this.awake = true;
    this.targetYaw = head ? head.yaw : 0;
    this.targetPitch = head ? head.pitch : 0;
  }

  jump() { this.jumpedAt = performance.now(); }

  say(words) { this.words = words; this.wordsAt = performance.now(); }

  frame(now) {
    this.yaw += (this.targetYaw - this.yaw) * EASE;
    this.pitch += (this.targetPitch - this.pitch) * EASE;
    this.draw(now);
    requestAnimationFrame((t) => this.frame(t));
  }

  draw(now) {
    const { canvas } = this;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);

    // Ground and shadow; a jump is a parabola with a squash at take-off and landing.
    const t = (now - this.jumpedAt) / JUMP_MS;
    const jumping = t >= 0 && t < 1;
    const lift = jumping ? Math.sin(Math.PI * t) * height * 0.24 : 0;
    const squash = jumping ? 1 + 0.18 * Math.cos(2 * Math.PI * t) * (t < 0.15 || t > 0.85 ? 1 : 0.2) : 1;
    const size = Math.min(width * 0.42, height * 0.5);
    const cx = width / 2, ground = height * 0.9;
    ctx.fillStyle = "#0000001f";
    ctx.beginPath();
    ctx.ellipse(cx, ground, size * (0.55 - lift / height * 0.6), size * 0.09, 0, 0, 2 * Math.PI);
    ctx.fill();

    const bodyY = ground - size * 0.5 - lift;
    ctx.save();
    ctx.translate(cx, bodyY + size * 0.5);
    ctx.scale(1 / squash, squash);
    ctx.translate(0, -size * 0.5);
    // Feet, body, belly.
    ctx.fillStyle = "#e07a2f";
    for (const side of [-1, 1]) {
      ctx.beginPath();
      ctx.ellipse(side * size * 0.22, size * 0.47, size * 0.14, size * 0.07, 0, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.fillStyle = "#ff9f43";
    ctx.beginPath();
    ctx.ellipse(0, 0, size * 0.5, size * 0.5, 0, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = "#ffd8a8";
    ctx.beginPath();
    ctx.ellipse(0, size * 0.14, size * 0.3, size * 0.28, 0, 0, 2 * Math.PI);
    ctx.fill();

    // The face slides where it looks: across for yaw, down for pitch.
    const fx = this.yaw * size * 0.2, fy = this.pitch * size * 0.12 - size * 0.12;
    // Ears turn with the head: the far one hides a little.
    ctx.fillStyle = "#e07a2f";
    for (const side of [-1, 1]) {
      const grow = 1 - side * this.yaw * 0.35;
      ctx.beginPath();
      ctx.ellipse(side * size * 0.36 + fx * 0.4, -size * 0.42, size * 0.1 * grow, size * 0.17, side * 0.35, 0, 2 * Math.PI);
      ctx.fill();
    }
    const awake = this.awake;
    for (const side of [-1, 1]) {
      const ex = fx + side * size * 0.16, ey = fy;
      ctx.fillStyle = "#fff";
      ctx.beginPath();
      ctx.ellipse(ex, ey, size * 0.11, awake ? size * 0.13 : size * 0.02, 0, 0, 2 * Math.PI);
      ctx.fill();
      if (awake) {
        ctx.fillStyle = "#1d1d1f";
        ctx.beginPath();
        ctx.arc(ex + this.yaw * size * 0.05, ey + this.pitch * size * 0.05, size * 0.055, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
    // Beak-like nose and a mouth that opens in a jump.
    ctx.fillStyle = "#c0392b";
    ctx.beginPath();
    ctx.ellipse(fx * 1.15, fy + size * 0.13, size * 0.05, size * (jumping ? 0.07 : 0.03), 0, 0, 2 * Math.PI);
    ctx.fill();
    ctx.restore();

    // What it just understood, in a bubble, for a few seconds.
    if (this.words && now - this.wordsAt < 3000) {
      ctx.font = "600 16px system-ui, sans-serif";
      const text = this.words;
      const w = ctx.measureText(text).width + 20;
      const x = Math.min(width - w - 6, cx + size * 0.45), y = Math.max(6, bodyY - size * 0.75);
      ctx.fillStyle = "#fff";
      ctx.strokeStyle = "#1d1d1f33";
      ctx.beginPath();
      ctx.roundRect(x, y, w, 30, 10);
      ctx.fill();
      ctx.stroke();
      ctx.fillStyle = "#1d1d1f";
      ctx.textBaseline = "middle";
      ctx.fillText(text, x + 10, y + 15);
    }
  }
}
