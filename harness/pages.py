"""A page in headless Chromium (Debian's, driven by Playwright: it never downloads a
browser), and what it showed when a test gave up."""

from __future__ import annotations

import time

from playwright.async_api import async_playwright

from harness import ROOT

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
