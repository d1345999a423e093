// The edge gate: look at every snapshot, send only those worth sending. A pure state
// machine (the time and the change are passed in), so a test can drive it directly.
//
// A snapshot is sent when the scene moved more than `change_threshold` since the last one
// looked at, for `hold_s` after a move (a gesture ends still: its last frames matter), and
// at least every `keep_alive_s` (the brain knows the eye is alive; nothing is missed long).

export function createGate() {
  return { lastChange: -Infinity, lastSent: -Infinity, looked: 0, sent: 0, previous: null };
}

// `change`: mean absolute difference of the small grey frame against the previous one,
// 0..1 (1 for the first frame). Returns whether to send; counts in `state`.
export function decide(state, settings, now, change) {
  state.looked += 1;
  let send = true;
  if (settings.gate === "change") {
    if (change > settings.change_threshold) state.lastChange = now;
    send = now - state.lastChange <= settings.hold_s * 1000 || now - state.lastSent >= settings.keep_alive_s * 1000;
  }
  if (send) {
    state.lastSent = now;
    state.sent += 1;
  }
  return send;
}

// The change between a grey frame (Uint8 luminance) and the previous one, 0..1.
export function changeOf(state, grey) {
  const previous = state.previous;
  state.previous = grey;
  if (!previous || previous.length !== grey.length) return 1;
  let total = 0;
  for (let i = 0; i < grey.length; i += 1) total += Math.abs(grey[i] - previous[i]);
  return total / (grey.length * 255);
}

// A video frame → its small grey version (`width` wide), for changeOf.
export function greyOf(video, width, canvas) {
  const height = Math.max(1, Math.round((video.videoHeight / video.videoWidth) * width));
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(video, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const grey = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 1) {
    grey[j] = (rgba[i] * 77 + rgba[i + 1] * 150 + rgba[i + 2] * 29) >> 8;
  }
  return grey;
}
