// People's skeletons over the preview: each person in their own colour (kept while the
// brain keeps their id), bones between seen keypoints, the joints, and a name tag.

export const BONES = [
  ["left_ear", "left_eye"], ["left_eye", "nose"], ["nose", "right_eye"], ["right_eye", "right_ear"],
  ["left_shoulder", "right_shoulder"], ["left_shoulder", "left_elbow"], ["left_elbow", "left_wrist"],
  ["right_shoulder", "right_elbow"], ["right_elbow", "right_wrist"], ["left_shoulder", "left_hip"],
  ["right_shoulder", "right_hip"], ["left_hip", "right_hip"], ["left_hip", "left_knee"],
  ["left_knee", "left_ankle"], ["right_hip", "right_knee"], ["right_knee", "right_ankle"],
];
// Light enough for dark text on them, and none the yellow of objects' boxes or the green of faces'.
export const PALETTE = ["#ff6b6b", "#4dabf7", "#ffa94d", "#b197fc", "#66d9e8", "#f783ac", "#a9e34b", "#ced4da"];
const SEEN = 0.3; // a keypoint this sure is drawn (the pose cortex's min_score)
const HEAD = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"];

// A person's colour: by their id, so that it stays theirs from frame to frame; by their
// place in the list when the brain gives no id.
export function colourOf(person, index) {
  const key = Number.isInteger(person.id) ? person.id : index;
  return PALETTE[Math.abs(key) % PALETTE.length];
}

// What to call a person: their name when known, else "#<id>"; "" without either.
export function labelOf(person) {
  if (person.name) return person.name;
  return Number.isInteger(person.id) ? `#${person.id}` : "";
}

// The box around a person, [x1, y1, x2, y2] in the frame's pixels: the brain's, else that
// of their seen keypoints; null when none is seen.
export function boxOf(person) {
  if (person.box) return person.box;
  const seen = Object.values(person.keypoints || {}).filter((p) => p[2] >= SEEN);
  if (!seen.length) return null;
  const xs = seen.map((p) => p[0]), ys = seen.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

// `place(x, y)` maps the frame's pixels onto the canvas.
export function drawSkeleton(ctx, people, place) {
  people.forEach((person, index) => {
    const colour = colourOf(person, index);
    const points = person.keypoints || {};
    ctx.lineWidth = 4;
    ctx.lineCap = "round";
    ctx.strokeStyle = colour;
    for (const [a, b] of BONES) {
      const p = points[a], q = points[b];
      if (!p || !q || p[2] < SEEN || q[2] < SEEN) continue;
      const [x1, y1] = place(p[0], p[1]);
      const [x2, y2] = place(q[0], q[1]);
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x2, y2);
      ctx.stroke();
    }
    // Left from right: the person's own left joints filled with their colour, the right ones white.
    for (const [name, p] of Object.entries(points)) {
      if (p[2] < SEEN) continue;
      const [x, y] = place(p[0], p[1]);
      ctx.fillStyle = name.startsWith("left") ? colour : "#fff";
      ctx.beginPath();
      ctx.arc(x, y, 5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
    drawLabel(ctx, person, colour, place);
  });
}

// The name tag just above the head (the top of the box when no part of the head is seen).
function drawLabel(ctx, person, colour, place) {
  const text = labelOf(person);
  if (!text) return;
  const head = HEAD.map((name) => (person.keypoints || {})[name]).filter((p) => p && p[2] >= SEEN);
  const box = boxOf(person);
  let anchor;
  if (head.length) {
    const [, top] = place(0, Math.min(...head.map((p) => p[1])));
    const [x] = place(head.reduce((sum, p) => sum + p[0], 0) / head.length, 0);
    anchor = [x, top - 14]; // (above the forehead, not over the eyes)
  } else if (box) {
    const [x, y] = place((box[0] + box[2]) / 2, box[1]);
    anchor = [x, y - 4];
  } else {
    return;
  }
  ctx.font = "600 14px system-ui, sans-serif";
  const width = ctx.measureText(text).width + 12, height = 20;
  const scale = ctx.getTransform().a || 1;
  const x = Math.max(0, Math.min(ctx.canvas.width / scale - width, anchor[0] - width / 2));
  const y = Math.max(0, anchor[1] - height);
  ctx.fillStyle = colour;
  ctx.beginPath();
  ctx.roundRect(x, y, width, height, 6);
  ctx.fill();
  ctx.fillStyle = "#111";
  ctx.textBaseline = "middle";
  ctx.fillText(text, x + 6, y + height / 2 + 1);
}
