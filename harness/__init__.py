"""What tests and benchmarks share, one concept a module: brains (a real brain as a
subprocess), processes (its actor system's), eyes (a websocket client of the protocol),
configs, pictures, poses, pages (headless Chromium), waits, the bad-input corpus, the
cortexes that exist only for tests, and fake servers (fake_x, fake_rekognition).

Imported from the repository's root, which pytest (its rootdir) and `python -m bench.x`
put on sys.path; a brain the harness starts runs there too (cwd), so a config can name
`harness.cortexes:Flaky`."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
