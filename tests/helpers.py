"""What tests and benchmarks share: the real brain as a subprocess on free ports, an eye
that speaks the protocol, the configs and the pictures they send."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil
import skimage.data
from PIL import Image, ImageEnhance
from playwright.async_api import async_playwright
from websockets.sync.client import ClientConnection, connect

from actors.cortexes.pose.body import KEYPOINTS

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_session(admin_port: int) -> int:
    """The session id of the actor system whose admin has admin_port (0 if none runs).

    thespian's admin calls setsid(), and every actor is forked from it, so they all share
    the admin's session id. The admin is known by its title (setproctitle's "MultiProcAdmin
    ActorAddr-(T|…:PORT)"), not by who listens on the port: once the system has ended, any
    process may listen there (a brain's eye server, on port 0), and "its leftovers", that
    process's session, would be the whole test run (the likeliest end of a killed CI run).
    """
    for proc in psutil.process_iter():
        title = process_title(proc)
        if title.startswith("MultiProcAdmin ") and title.endswith(f":{admin_port})"):
            try:
                return os.getsid(proc.pid)
            except ProcessLookupError:  # (it ended since it was listed)
                continue
    return 0


def actor_processes(admin_port: int) -> list[psutil.Process]:
    """Live (not zombie) processes of the actor system whose admin has admin_port."""
    return processes_in_session(admin_session(admin_port))


def actor_session(admin_port: int, timeout: float = 10) -> int:
    """The session id of the actor system on admin_port (0 if none shows up in time).

    Looked up until it holds: the admin may not have its title yet, or a process listed
    may have ended since (the admin's daemonising fork, say), which once failed a test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sid := admin_session(admin_port):
            return sid
        time.sleep(0.05)
    return 0


def processes_in_session(sid: int) -> list[psutil.Process]:
    if not sid or sid == os.getsid(0):
        return []  # (never the test run's own: its leftovers would be the run itself)
    found = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (ProcessLookupError, psutil.Error):
            pass
    return found


def process_title(proc: psutil.Process) -> str:
    """argv[0] (setproctitle's title), or "" for a process that ended since it was listed."""
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return ""
    return cmdline[0] if cmdline else ""


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class _BrainProcess:
    """A `brain …` subprocess whose log is kept for assertions and failure reports."""

    def __init__(self, args: list[str], env: dict, ready_line: str, what: str):
        self.log_lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "brain.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not wait_until(
            lambda: any(ready_line in line for line in self.log_lines) or self.proc.poll() is not None, 30
        ):
            self.stop()
            raise RuntimeError(f"{what} did not start:\n" + self.log)
        if self.proc.poll() is not None:
            self._reader.join(5)  # (its last words may still be in the pipe: a busy machine)
            raise RuntimeError(f"{what} exited at start:\n" + self.log)

    def _read_log(self) -> None:
        for line in self.proc.stdout:
            self.log_lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.log_lines)

    def processes(self) -> list[psutil.Process]:
        raise NotImplementedError

    def named(self, title: str) -> list[psutil.Process]:
        """Its actor processes of one class (setproctitle names them "Class ActorAddr-…")."""
        return [p for p in self.processes() if process_title(p).startswith(title + " ")]

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode

    def kill_leftovers(self) -> None:
        for proc in self.processes():
            try:
                proc.kill()
            except psutil.Error:
                pass


class Brain(_BrainProcess):
    """`brain serve` on free ports."""

    def __init__(
        self,
        config: Path,
        tmp: Path,
        extra_args: tuple[str, ...] = (),
        env: dict | None = None,
        admin_port: int | None = None,
    ):
        self.tmp = tmp
        env = {**os.environ, "THESPLOG_FILE": str(tmp / "thespian.log"), "PYTHONUNBUFFERED": "1", **(env or {})}
        env = {name: value for name, value in env.items() if value is not None}  # (None: unset it)
        # The brain binds the eye and events ports itself (0: any free port) and logs them:
        # a port picked here and closed again was once taken by another process meanwhile.
        for attempt in range(3):
            self.admin_port = admin_port or free_port()
            try:
                args = [
                    "serve",
                    "--config",
                    str(config),
                    "--port",
                    "0",
                    "--admin-port",
                    str(self.admin_port),
                    "--events-port",
                    "0",
                    *extra_args,
                ]
                super().__init__(args, env, "eye page on", "brain")
                break
            except RuntimeError:
                if self.proc.returncode != 3 or admin_port or attempt == 2:  # 3: the admin port was taken
                    raise
        self.port = int(re.search(r"eye page on https?://[^ ]*:(\d+)/", self.log).group(1))
        self.session_id = actor_session(self.admin_port)
        if not self.session_id:
            self.stop()
            raise RuntimeError("brain started, but its actor system was not found:\n" + self.log)

    @property
    def events_port(self) -> int:
        wait_until(lambda: "events endpoint on" in self.log, 10)
        return int(re.search(r"events endpoint on https?://[^ ]*:(\d+)/events", self.log).group(1))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def processes(self) -> list[psutil.Process]:
        return processes_in_session(self.session_id)

    def thespian_log(self, tail: int = 6000) -> str:
        """The end of what thespian itself logged (its warnings: failed or retried sends)."""
        path = self.tmp / "thespian.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"thespian.log: {text[-tail:]}" if text else "thespian.log: (nothing)"

    def eye(self, **kwargs) -> Eye:
        return Eye(self.ws_url, **kwargs)


class Member(_BrainProcess):
    """A `brain join` subprocess: another "host" of the leader's convention, on its own
    loopback address (127.0.0.2, …) and admin port."""

    def __init__(
        self,
        leader: Brain,
        host: str,
        capabilities: str,
        tmp: Path,
        env: dict | None = None,
        admin_port: int | None = None,
    ):
        self.host = host
        self.sessions: set[int] = set()  # of every actor system it has run (see processes())
        self.admin_port = admin_port or free_port()
        self.name = f"{host}:{self.admin_port}"
        env = {**os.environ, "THESPLOG_FILE": str(tmp / f"thespian-{host}.log"), "PYTHONUNBUFFERED": "1", **(env or {})}
        env = {name: value for name, value in env.items() if value is not None}  # (None: unset it)
        super().__init__(
            [
                "join",
                "--leader",
                f"127.0.0.1:{leader.admin_port}",
                "--capabilities",
                capabilities,
                "--host",
                host,
                "--admin-port",
                str(self.admin_port),
            ],
            env,
            "joins the leader",
            "member",
        )
        self.processes()  # (its first actor system's session, kept for the leftovers)

    def processes(self) -> list[psutil.Process]:
        """Its actor system's processes, and any left of the ones it ran before: a member
        that joins afresh runs a new actor system (looked up each time), and one that
        outlived its system's shutdown is a leak to see, and to end."""
        if sid := admin_session(self.admin_port):
            self.sessions.add(sid)
        return [proc for sid in sorted(self.sessions) for proc in processes_in_session(sid)]

    def crash(self) -> None:
        """The host dies: every process of its actor system and its `brain join` at once."""
        for proc in [*self.processes(), psutil.Process(self.proc.pid)]:
            try:
                proc.kill()
            except psutil.Error:
                pass
        self.proc.wait(10)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        code = super().stop(signum, timeout)
        self.kill_leftovers()
        return code


class Eye:
    """A websocket client speaking the eye protocol."""

    def __init__(self, url: str, **kwargs):
        self._connecting = connect(url, **kwargs)
        self.ws: ClientConnection = self._connecting.__enter__()
        self.seen: list[dict] = []

    def recv(self, timeout: float = 10) -> dict:
        output = json.loads(self.ws.recv(timeout=timeout))
        self.seen.append(output)
        return output

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching output in {timeout}s; saw {self.seen[-5:]}")
            output = self.recv(remaining)
            if predicate(output):
                return output

    def seen_or_wait(self, predicate: Callable[[dict], bool], timeout: float = 10) -> dict:
        """An output already received that matches, or the next one that does."""
        for output in self.seen:
            if predicate(output):
                return output
        return self.wait_for(predicate, timeout)

    def wait_ready(self, timeout: float = 15) -> dict:
        return self.wait_for(lambda o: o["kind"] == "status" and o["data"].get("ready"), timeout)

    def send(self, message: str | bytes) -> None:
        self.ws.send(message)

    def ask(self, message: str | bytes, timeout: float = 10) -> dict:
        """Send, then return the next output that is not a status or tick."""
        self.ws.send(message)
        return self.wait_for(lambda o: o["kind"] not in ("status", "tick"), timeout)

    def close(self) -> None:
        self._connecting.__exit__(None, None, None)

    def __enter__(self) -> Eye:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: How long a model call may take in tests. On a loaded 2-core CI machine a call can take
#: seconds: that is slow, not wrong (a faces test once failed on the default 5 s). Tests
#: of timeouts set their own.
TEST_INFER_TIMEOUT_MS = 60_000


def default_config(faces_store: Path | None = None, objects_timeout_ms: int = TEST_INFER_TIMEOUT_MS) -> str:
    """config/default.toml for a test: generous model timeouts (the objects cortex's may be
    set shorter, to test timeouts), and the faces and teach stores beside `faces_store`
    (`<dir>/faces`, `<dir>/teach`), never under data/."""
    text = (ROOT / "config" / "default.toml").read_text()
    timeouts = {"objects": objects_timeout_ms}  # (the others: TEST_INFER_TIMEOUT_MS)

    def with_timeout(params: re.Match) -> str:
        kind = re.search(r'model = "(\w+)"', params.group(1))
        timeout = timeouts.get(kind.group(1) if kind else "", TEST_INFER_TIMEOUT_MS)
        return f"{params.group(1)}, infer_timeout_ms = {timeout} }}"

    text, cortexes = re.subn(r"^(params = \{.*?) \}$", with_timeout, text, flags=re.M)
    assert cortexes == 4, "objects, faces, pose and learned take params in config/default.toml"
    if faces_store is not None:
        assert '"data/faces"' in text and '"data/teach"' in text
        text = text.replace('"data/faces"', f'"{faces_store}"').replace(
            '"data/teach"', f'"{faces_store.parent / "teach"}"'
        )
    return text


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


ECHO_TICKER = """
[server]
max_message_bytes = 65536
close_over_bytes = 262144

[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text", "image", "command"]

[[cortex]]
name = "ticker"
type = "ticker"
params = { every_s = 0.3, text = "tick" }
"""


@contextmanager
def running_brain(
    config_text: str,
    tmp: Path,
    extra_args: tuple[str, ...] = (),
    env: dict | None = None,
    admin_port: int | None = None,
) -> Iterator[Brain]:
    """A brain on `config_text`, stopped (and any leftover actor killed) afterwards."""
    running = Brain(write_config(tmp / "brain.toml", config_text), tmp, extra_args, env, admin_port)
    try:
        yield running
    finally:
        running.stop()
        running.kill_leftovers()


# The objects model needs a "gpu" host; hosts 127.0.0.2 and .3 may join; they are pinged
# every 0.25 s and lost after 1 s.
GPU_TOPOLOGY = """
[server]
max_frames_per_s = 100.0

[actors]
allowed_peers = ["127.0.0.2", "127.0.0.3"]
heartbeat_every_s = 0.25
host_dead_after_s = 1.0
leader_lost_after_s = 2.0

[[model]]
name = "objects"
kind = "nanodet"
path = "models/nanodet.tflite"
requires = ["gpu"]

[[cortex]]
name = "objects"
type = "objects"
subscribes = ["image"]
params = { model = "objects", threshold = 0.35, infer_timeout_ms = 3000 }
"""


def ready_on(eye, host: str, timeout: float = 120) -> dict:
    return eye.wait_for(lambda o: o["data"].get("state") == "ready" and o["data"].get("host") == host, timeout)


ASTRONAUT = Image.fromarray(skimage.data.astronaut())  # Eileen Collins, NASA, public domain


CAMERAMAN = Image.fromarray(skimage.data.camera()).convert("RGB")  # CC0, another person


def frame(image: Image.Image) -> bytes:
    return jpeg(np.asarray(image))


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width × height pixels."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def jpeg(array: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def label_of(eye, frame: bytes, timeout: float = 60) -> dict:
    eye.send(frame)
    return eye.wait_for(lambda o: o["kind"] in ("label", "error") and o["cortex"] == "objects", timeout)


def ready_eye(brain, models: int = 1):
    """An eye of `brain` once `models` of its models have said they are ready."""
    eye = brain.eye(max_size=None)
    ready = set()
    while len(ready) < models:
        output = eye.wait_for(lambda o: o["data"].get("state") == "ready", timeout=120)
        ready.add(output["data"]["model"])
    return eye


def handshake_status(brain, host: str, path: str = "/ws") -> int:
    """The status of a websocket handshake (or page request) naming `host` as Host and Origin."""
    conn = http.client.HTTPConnection("127.0.0.1", brain.port, timeout=10)
    try:
        conn.request(
            "GET",
            path,
            headers={
                "Host": host,
                "Origin": f"http://{host}",
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "13",
            },
        )
        return conn.getresponse().status
    finally:
        conn.close()


# A person standing facing the camera, in pixels (y down), every point seen: their own
# left is on the image's right.
STANDING = {
    "nose": (320, 100), "left_eye": (332, 90), "right_eye": (308, 90), "left_ear": (345, 95),
    "right_ear": (295, 95), "left_shoulder": (370, 160), "right_shoulder": (270, 160),
    "left_elbow": (385, 230), "right_elbow": (255, 230), "left_wrist": (390, 295),
    "right_wrist": (250, 295), "left_hip": (350, 300), "right_hip": (290, 300),
    "left_knee": (350, 400), "right_knee": (290, 400), "left_ankle": (350, 490), "right_ankle": (290, 490),
}  # fmt: skip


def person(**moved) -> np.ndarray:
    """Keypoints [17,3] of STANDING, some moved: {"left_wrist": (x, y)}."""
    points = {**STANDING, **moved}
    return np.array([[*points[name], 0.9] for name in KEYPOINTS], np.float64)


# The [[model]] stanzas of config/default.toml, for topologies written by tests and
# benchmarks: `models("faces", "face-embeddings")`.
MODELS = {
    "objects": ("nanodet", "models/nanodet.tflite"),
    "faces": ("blazeface", "models/blazeface.tflite"),
    "face-embeddings": ("faceres", "models/faceres.tflite"),
    "pose": ("movenet", "models/movenet-lightning.tflite"),
    "image-features": ("centernet-embedding", "models/centernet-embedding.tflite"),
}


def models(*names: str) -> str:
    return "".join(f'\n[[model]]\nname = "{n}"\nkind = "{MODELS[n][0]}"\npath = "{MODELS[n][1]}"\n' for n in names)


def variant(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Another take of a photo: cropped, turned a little, lit differently."""
    width, height = image.size
    scale = rng.uniform(0.7, 0.95)
    w, h = int(width * scale), int(height * scale)
    x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    out = image.crop((x, y, x + w, y + h)).rotate(float(rng.uniform(-10, 10)))
    return ImageEnhance.Brightness(out).enhance(float(rng.uniform(0.75, 1.25)))


# -- headless Chromium (Debian's, driven by Playwright: it never downloads a browser) --

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"  # screenshots, to look at
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
]


async def open_page(url: str, flags: list[str], allow_camera: bool, action):
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
        try:
            context = await browser.new_context(
                viewport={"width": 1200, "height": 820}, permissions=["camera"] if allow_camera else []
            )
            page = await context.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            await page.goto(url)
            try:
                return await action(page)
            except Exception as exc:
                # A wait that timed out says only what it waited for: say what the page showed.
                exc.add_note(await page_report(page, console))
                raise
        finally:
            await browser.close()


async def page_report(page, console: list[str]) -> str:
    """What a person would have seen on the page when a test gave up, and its last console lines."""
    try:
        text = await page.evaluate("document.body.innerText")
    except Exception as exc:  # (a page that crashed has no text to give)
        text = f"(could not read the page: {exc})"
    lines = "\n".join(f"  {line}" for line in text.splitlines()[:80] if line.strip())
    logged = "\n".join(f"  {line}" for line in console[-20:]) or "  (nothing)"
    return f"The page showed, at {time.strftime('%H:%M:%S')}:\n{lines}\nIts console said:\n{logged}"


def brain_state(brain) -> dict:
    """The live view's JSON (GET /brain/state)."""
    with urllib.request.urlopen(brain.url + "/brain/state", timeout=5) as response:
        return json.load(response)


def frames_received(brain) -> int:
    """Snapshots the brain has received so far (its /metrics): what reached it on the wire."""
    metrics = urllib.request.urlopen(brain.url + "/metrics").read().decode()
    line = next((x for x in metrics.splitlines() if x.startswith('cortical_messages_in_total{kind="image"}')), "")
    return int(float(line.split()[-1])) if line else 0
