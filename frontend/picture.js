// Whether the camera's <video> shows a picture yet. Right after a camera starts, the video
// knows its size (even readyState 4) but shows nothing, and the first frame it then
// presents is black: Chromium did so on each of 13 restarts in a row of its fake camera. A
// snapshot of either made the brain say "I see nothing I know" of a scene it never saw.

// Frames a new stream presents before its picture counts (the first one is black).
const WARM_UP_FRAMES = 2;

export class Picture {
  constructor(video) {
    this.video = video;
    this.presented = 0; // frames the current stream has presented, counted up to WARM_UP_FRAMES
    this.stream = 0; // which stream is counted: a callback of an earlier one is ignored
    this.waiting = []; // called once there is a picture
  }

  // A new stream is in the video: count its frames from none (what waits goes on waiting).
  started() {
    const stream = ++this.stream;
    this.presented = 0;
    if (!this.video.requestVideoFrameCallback) return; // (no way to count: ready() trusts readyState)
    const counted = () => {
      if (stream !== this.stream) return;
      this.presented += 1;
      if (this.ready()) this.waiting.splice(0).forEach((then) => then());
      else this.video.requestVideoFrameCallback(counted);
    };
    this.video.requestVideoFrameCallback(counted);
  }

  // The camera stopped: no picture, and nothing waits for one.
  stopped() {
    this.stream += 1;
    this.presented = 0;
    this.waiting = [];
  }

  ready() {
    const counted = !this.video.requestVideoFrameCallback || this.presented >= WARM_UP_FRAMES;
    return counted && this.video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && this.video.videoWidth > 0;
  }

  // Calls `then` once there is a picture: now, or when the camera (perhaps still starting) has one.
  whenReady(then) {
    if (this.ready()) then();
    else this.waiting.push(then);
  }
}
