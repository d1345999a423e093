"""A small HTTP server on 127.0.0.1 that speaks Rekognition's JSON protocol (CompareFaces).

moto's CompareFaces gives the same canned answer whatever the images, so the cases a
face cortex must handle — match, no match, no face, throttling, 5xx, a slow answer —
are played by this server, chosen by the test through `scenario`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LEFT_HALF = {"Left": 0.05, "Top": 0.05, "Width": 0.45, "Height": 0.6}


class FakeRekognition:
    def __init__(self):
        self.scenario = "match"
        self.match_box = LEFT_HALF
        self.calls: list[dict] = []
        self.slow_s = 3.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                target = self.headers.get("X-Amz-Target", "")
                fake.calls.append(
                    {"target": target, "body": body, "authorization": self.headers.get("Authorization", "")}
                )
                status, answer = fake.answer(target)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, target: str) -> tuple[int, dict]:
        if target != "RekognitionService.CompareFaces":
            return 400, {"__type": "UnknownOperationException", "message": target}
        if self.scenario == "throttle":
            return 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        if self.scenario == "error500":
            return 500, {"__type": "InternalServerError", "message": "Internal server error"}
        if self.scenario == "slow":
            time.sleep(self.slow_s)
        face = {"BoundingBox": self.match_box, "Confidence": 99.9}
        source = {"SourceImageFace": {"BoundingBox": LEFT_HALF, "Confidence": 99.9}}
        if self.scenario == "nomatch":
            return 200, {**source, "FaceMatches": [], "UnmatchedFaces": [face]}
        if self.scenario == "noface":
            return 200, {**source, "FaceMatches": [], "UnmatchedFaces": []}
        return 200, {**source, "FaceMatches": [{"Similarity": 97.5, "Face": face}], "UnmatchedFaces": []}

    def compare_calls(self) -> int:
        return sum(1 for c in self.calls if c["target"] == "RekognitionService.CompareFaces")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
