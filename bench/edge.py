"""Edge benchmark (issue "Think at the edge"), in one run: headless Chromium with fake
cameras against a real brain, and the Rekognition path against a local fake.

1. Snapshots the brain receives per minute, a still scene and changing ones (a person for
   1.5 s, an empty field for 1.5 s, again: a portrait, or the cameraman looking left and
   down), gate on against off; how many of the portrait's appearances the faces cortex
   saw, and how many of the cameraman's the pose cortex turned into a gesture event.
2. The page's cost of the gate per snapshot (grey thumbnail + change), and of the pose
   model in the page (privacy mode), in ms.
3. Rekognition CompareFaces calls per 100 frames of a mixed stream (10 appearances of 5
   frames, each followed by 5 frames of nobody): one per appearance against one per frame.
"""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
import time
from pathlib import Path

import skimage.data
from PIL import Image
from playwright.async_api import async_playwright
from websockets.asyncio.client import connect

from harness import ROOT
from harness.brains import frames_received, running_brain
from harness.configs import default_config
from harness.eyes import ready_models
from harness.fake_rekognition import FakeRekognition
from harness.pages import FLAGS
from harness.pictures import ASTRONAUT, CAMERAMAN, frame
from harness.waits import wait_until

SECONDS = 20.0


def jpeg_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").resize((640, 480)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def cameras(tmp: Path) -> dict[str, Path]:
    still = tmp / "still.mjpeg"
    still.write_bytes(jpeg_of(Image.fromarray(skimage.data.coffee())) * 30)
    changing = tmp / "changing.mjpeg"
    empty = CAMERAMAN.crop((330, 0, 512, 140))
    changing.write_bytes((jpeg_of(ASTRONAUT) * 45 + jpeg_of(empty) * 45) * 20)
    moving = tmp / "moving.mjpeg"  # the cameraman (looking left, down) comes and goes
    moving.write_bytes((jpeg_of(CAMERAMAN) * 45 + jpeg_of(empty) * 45) * 20)
    person = tmp / "person.mjpeg"
    person.write_bytes(jpeg_of(CAMERAMAN) * 30)
    return {"still": still, "changing": changing, "moving": moving, "person": person}


async def watch_page(url: str, camera: Path, gate: bool, brain) -> tuple[float, int, int]:
    """Snapshots per minute, appearances seen (faces outputs going from none to some), and
    gesture events (look_left)."""
    counts: list[int] = []
    gestures: list[str] = []

    def on_ws(ws):
        def received(payload):
            output = json.loads(payload)
            if output.get("kind") == "faces":
                counts.append(len(output["data"]["faces"]))
            elif output.get("kind") == "gesture" and output["data"]["gesture"] == "look_left":
                gestures.append(output["data"]["gesture"])

        ws.on("framereceived", received)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[*FLAGS, "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={camera}"],
        )
        page = await (await browser.new_context(permissions=["camera"])).new_page()
        page.on("websocket", on_ws)
        await page.goto(url)
        await page.wait_for_function("document.querySelector('#seeing').textContent.length > 0", timeout=120_000)
        if not gate:
            await page.uncheck("#gate-switch")
        await page.wait_for_timeout(1500)
        counts.clear()
        gestures.clear()
        before = frames_received(brain)
        await page.wait_for_timeout(SECONDS * 1000)
        sent = frames_received(brain) - before
        await browser.close()
    appearances = sum(1 for a, b in zip([0, *counts], counts) if a == 0 and b > 0)
    return sent * 60 / SECONDS, appearances, len(gestures)


async def page_costs(url: str, camera: Path, private_url: str) -> tuple[float, float]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[*FLAGS, "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={camera}"],
        )
        page = await (await browser.new_context(permissions=["camera"])).new_page()
        await page.goto(url)
        await page.wait_for_function("document.querySelector('#preview').videoWidth > 0", timeout=60_000)
        gate_ms = await page.evaluate(
            """async () => {
                const { changeOf, createGate, greyOf } = await import('/gate.js');
                const video = document.querySelector('#preview'), canvas = document.createElement('canvas');
                const state = createGate();
                for (let i = 0; i < 10; i += 1) changeOf(state, greyOf(video, 32, canvas));
                const started = performance.now();
                for (let i = 0; i < 200; i += 1) changeOf(state, greyOf(video, 32, canvas));
                return (performance.now() - started) / 200; }"""
        )
        await page.goto(private_url)
        await page.wait_for_function(
            "document.querySelector('#frames').textContent.includes('poses sent')", timeout=120_000
        )
        await page.wait_for_timeout(5000)
        text = await page.inner_text("#frames")
        await browser.close()
    return gate_ms, float(text.rsplit(",", 1)[1].split()[0])


def rekognition_config(endpoint: str, reference: Path, compare: str) -> str:
    return f"""
[[model]]
name = "faces"
kind = "blazeface"
path = "models/blazeface.tflite"

[[cortex]]
name = "faces"
type = "faces"
subscribes = ["image"]
params = {{ backend = "rekognition", references = {{ Eileen = "{reference}" }}, endpoint_url = "{endpoint}", region = "us-east-1", compare = "{compare}", announce_every_s = 0.0 }}
"""


async def mixed_stream(brain) -> None:
    # The faces model loaded (the brain's state: the eye's cortex starts at its first
    # picture, and only then tells it of its model), then the eye's faces cortex started by a
    # picture of nobody (no cloud call), as it was at connect.
    assert wait_until(lambda: "faces" in ready_models(brain), 180), "the faces model did not load in 180 s"
    ws = await connect(brain.ws_url, max_size=None)
    nobody = frame(Image.fromarray(skimage.data.coffee()))
    eileen = frame(ASTRONAUT)
    await ws.send(nobody)  # (no output for it: nothing new to say; but the session says the cortex started)
    while json.loads(await ws.recv())["data"].get("started") != "faces":
        pass
    await asyncio.sleep(0.3)
    for _ in range(10):
        for image in [eileen] * 5 + [nobody] * 5:
            await ws.send(image)
            await asyncio.sleep(0.3)  # (one at a time: latest-frame-wins drops none)
    await ws.close()


def cloud_calls(tmp: Path) -> dict[str, int]:
    fake = FakeRekognition()
    reference = tmp / "eileen.jpg"
    reference.write_bytes(frame(ASTRONAUT))
    env = {
        "AWS_ACCESS_KEY_ID": "AKIDBENCH",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    calls = {}
    try:
        for compare in ("frame", "appearance"):
            (tmp / compare).mkdir()
            with running_brain(rekognition_config(fake.url, reference, compare), tmp / compare, env=env) as brain:
                before = fake.compare_calls()
                asyncio.run(mixed_stream(brain))
                time.sleep(1)
                calls[compare] = fake.compare_calls() - before
    finally:
        fake.close()
    return calls


def main() -> None:
    print("Edge benchmark: headless Chromium, fake cameras, this machine\n")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fakes = cameras(tmp)
        (tmp / "brain").mkdir()
        private = (ROOT / "config" / "private.toml").read_text().replace("port = 8080", "port = 0")
        with running_brain(default_config(tmp / "brain" / "faces"), tmp / "brain") as brain:
            rows = {}
            for scene in ("still", "changing", "moving"):
                for gate in (False, True):
                    rows[scene, gate] = asyncio.run(watch_page(brain.url + "/", fakes[scene], gate, brain))
            (tmp / "private").mkdir()
            with running_brain(private, tmp / "private") as private_brain:
                gate_ms, pose_ms = asyncio.run(page_costs(brain.url + "/", fakes["person"], private_brain.url + "/"))
        print(f"| scene ({SECONDS:.0f} s each, 5 snapshots/s) | gate off | gate on | fewer |", end="")
        print(" faces seen (off / on) | look_left events (off / on) |")
        print("|---|---:|---:|---:|---:|---:|")
        for scene in ("still", "changing", "moving"):
            (off, seen_off, g_off), (on, seen_on, g_on) = rows[scene, False], rows[scene, True]
            print(f"| {scene} | {off:.0f}/min | {on:.0f}/min | {1 - on / off:.0%} |", end="")
            print(f" {seen_off} / {seen_on} | {g_off} / {g_on} |")
        print(f"\nThe page's gate: {gate_ms:.2f} ms per snapshot (a 32-px grey thumbnail and its change).")
        print(f"Privacy mode, the pose model in the page (headless, no GPU): {pose_ms:.0f} ms per estimate.")
        calls = cloud_calls(tmp)
    print("\n| Rekognition, 100 frames: 10 appearances of 5 frames, each then 5 of nobody | CompareFaces calls |")
    print("|---|---:|")
    print(f'| compare = "frame" | {calls["frame"]} |\n| compare = "appearance" (default) | {calls["appearance"]} |')


if __name__ == "__main__":
    main()
