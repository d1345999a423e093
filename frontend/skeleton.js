// A person's skeleton over the preview: bones between seen keypoints, and the joints.

export const BONES = [
  ["left_ear", "left_eye"], ["left_eye", "nose"], ["nose", "right_eye"], ["right_eye", "right_ear"],
  ["left_shoulder", "right_shoulder"], ["left_shoulder", "left_elbow"], ["left_elbow", "left_wrist"],
  ["right_shoulder", "right_elbow"], ["right_elbow", "right_wrist"], ["left_shoulder", "left_hip"],
  ["right_shoulder", "right_hip"], ["left_hip", "right_hip"], ["left_hip", "left_knee"],
  ["left_knee", "left_ankle"], ["right_hip", "right_knee"], ["right_knee", "right_ankle"],
];
const SEEN = 0.3; // a keypoint this sure is drawn (the pose cortex's min_score)

// `place(x, y)` maps the frame's pixels onto the canvas.
export function drawSkeleton(ctx, people, place) {
  for (const person of people) {
    const points = person.keypoints || {};
    ctx.lineWidth = 4;
    ctx.lineCap = "round";
    for (const [a, b] of BONES) {
      const p = points[a], q = points[b];
      if (!p || !q || p[2] < SEEN || q[2] < SEEN) continue;
      const left = a.startsWith("left") || b.startsWith("left");
      ctx.strokeStyle = left ? "#4dabf7" : a.startsWith("right") ? "#ff6b9d" : "#e9ecef";
      const [x1, y1] = place(p[0], p[1]);
      const [x2, y2] = place(q[0], q[1]);
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x2, y2);
      ctx.stroke();
    }
    for (const p of Object.values(points)) {
      if (p[2] < SEEN) continue;
      const [x, y] = place(p[0], p[1]);
      ctx.fillStyle = "#fff";
      ctx.beginPath();
      ctx.arc(x, y, 5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
  }
}
