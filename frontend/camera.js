// What went wrong with the camera, as a sentence that says what to do (the eye page and the gallery).

export function cameraProblem(error) {
  if (!window.isSecureContext) {
    return "The camera needs a secure page. Open this page over https, or as http://localhost on this device.";
  }
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "The camera is blocked. Allow camera access for this site (the camera or lock icon in the address bar), then press Start camera.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera was found. Plug one in or switch camera, then press Start camera.";
    case "NotReadableError":
    case "AbortError":
      return "The camera is busy in another app. Close that app, then press Start camera.";
    default:
      return `The camera could not start (${error ? error.message || error.name : "unknown error"}). Press Start camera to try again.`;
  }
}
