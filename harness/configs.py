"""Configs for test and benchmark brains: config/default.toml with test timeouts, the
echo-and-ticker brain, a scale-out topology, and the [[model]] stanzas by name."""

from __future__ import annotations

import re
from pathlib import Path

from harness import ROOT

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


def at_connect(text: str) -> str:
    """`text` with every cortex started with its eye (`start = "connect"`), for a test that
    waits at connect for what its cortexes say of their models (they start at need otherwise)."""
    return text.replace("[[cortex]]\n", '[[cortex]]\nstart = "connect"\n')


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

# (started with its eye: the tests watch its eye hear where the model is, and moves to)
[[cortex]]
name = "objects"
type = "objects"
start = "connect"
subscribes = ["image"]
params = { model = "objects", threshold = 0.35, infer_timeout_ms = 3000 }
"""


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


# The brain's three data stores on one eye (teach projects, enrolled faces, alert
# snapshots), for the private-data test and probe: format with tmp= and max_epochs=.
STORES_TOPOLOGY = """
[server]
max_frames_per_s = 200.0
max_messages_per_s = 400.0
{models}

[[cortex]]
name = "echo"
type = "echo"
subscribes = ["text"]

[[cortex]]
name = "learned"
type = "learned"
subscribes = ["image", "command"]
params = {{ store_dir = "{tmp}/teach", infer_timeout_ms = 60000, min_samples_per_class = 4, max_epochs = {max_epochs} }}

[[cortex]]
name = "faces"
type = "faces"
subscribes = ["image", "command"]
params = {{ store_dir = "{tmp}/faces", infer_timeout_ms = 60000 }}

[[cortex]]
name = "sentry"
type = "sentry"
subscribes = ["image"]
params = {{ store_dir = "{tmp}/faces", alerts_dir = "{tmp}/alerts", confirm_frames = 1, infer_timeout_ms = 60000 }}
"""

#: (cortex, model) pairs of STORES_TOPOLOGY that must be ready before a frame is worth sending.
STORES_NEEDS = {
    ("learned", "pose"),
    ("learned", "image-features"),
    ("faces", "faces"),
    ("faces", "face-embeddings"),
} | {("sentry", model) for model in ("objects", "faces", "face-embeddings")}


def stores_topology(tmp, max_epochs: int) -> str:
    every = models("pose", "image-features", "objects", "faces", "face-embeddings")
    return at_connect(STORES_TOPOLOGY.format(tmp=tmp, models=every, max_epochs=max_epochs))
